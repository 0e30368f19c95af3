"""Property tests of the threads repository (sync API; hypothesis drives it).

Each example runs in a savepoint of the test's connection that is rolled back
afterwards (:func:`gearbox_db.testing.isolated`), so examples never see each
other's rows.
"""

from __future__ import annotations

import itertools
from contextlib import ExitStack
from typing import ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy import Connection

from gearbox_db import (
    Database,
    InvalidReferenceError,
    InvalidStateError,
    ValidationError,
)
from gearbox_db.testing import isolated
from tests.stateful import completed_runs

#: Any Unicode text PostgreSQL can store (no NUL; hypothesis leaves out surrogates).
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
NAMES = TEXT.filter(str.strip)
WITH_NUL = st.tuples(TEXT, TEXT).map(lambda parts: f"{parts[0]}\x00{parts[1]}")
_FIXTURE = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@_FIXTURE
@given(name=NAMES, candidate=NAMES, notes=TEXT, url=TEXT, pros=TEXT, cons=TEXT)
def test_any_text_round_trips(
    gearbox_connection: Connection,
    name: str,
    candidate: str,
    notes: str,
    url: str,
    pros: str,
    cons: str,
) -> None:
    with isolated(gearbox_connection):
        db = Database.from_connection(gearbox_connection)
        category = db.categories.get_by_name("Uncategorized")
        thread = db.threads.create(name=name, category_id=category.id)
        added = db.threads.add_candidate(
            thread.id, name=candidate, notes=notes, product_url=url, pros=pros, cons=cons,
            image_filename=url, image_source_url=notes,
        )  # fmt: skip
        got = db.threads.get(thread.id)
        assert (got.thread.name, got.candidates) == (name, (added,))
        assert (added.name, added.notes, added.product_url, added.pros, added.cons) == (
            candidate, notes, url, pros, cons,
        )  # fmt: skip
        assert (added.image_filename, added.image_source_url) == (url, notes)
        listed = {s.thread.id: s.thread.name for s in db.threads.list(limit=1000).threads}
        assert listed[thread.id] == name
        item = db.threads.resolve(thread.id, added.id).item
        assert (item.name, item.notes, item.product_url, item.image_source_url) == (
            candidate, notes, url, notes,
        )  # fmt: skip


@_FIXTURE
@given(bad=WITH_NUL)
def test_nul_is_a_validation_error(gearbox_connection: Connection, bad: str) -> None:
    with isolated(gearbox_connection):
        db = Database.from_connection(gearbox_connection)
        category = db.categories.get_by_name("Uncategorized")
        with pytest.raises(ValidationError):
            db.threads.create(name=bad, category_id=category.id)
        thread = db.threads.create(name="ok", category_id=category.id)
        with pytest.raises(ValidationError):
            db.threads.update(thread.id, name=bad)
        with pytest.raises(ValidationError):
            db.threads.add_candidate(thread.id, name="ok", notes=bad)
        candidate = db.threads.add_candidate(thread.id, name="ok")
        with pytest.raises(ValidationError):
            db.threads.update_candidate(candidate.id, pros=bad)
        assert db.threads.get(thread.id).candidates == (candidate,)


@attrs.define
class _ModelThread:
    candidates: list[int] = attrs.field(factory=list)
    status: str = "active"
    resolved_candidate_id: int | None = None


class ThreadMachine(RuleBasedStateMachine):
    """The repository against a model: threads, the order of their candidates,
    their status, and the number of items resolving created."""

    connection: ClassVar[Connection]

    def __init__(self) -> None:
        super().__init__()
        self._stack = ExitStack()
        self.db = Database.from_connection(self._stack.enter_context(isolated(self.connection)))
        self.category_id = self.db.categories.create(name="Research").id
        self.threads: dict[int, _ModelThread] = {}
        self.names: dict[int, str] = {}
        self.items = 0

    def teardown(self) -> None:
        self._stack.close()

    def _with_candidates(self, data: st.DataObject, least: int) -> int:
        choices = sorted(t for t, m in self.threads.items() if len(m.candidates) >= least)
        return data.draw(st.sampled_from(choices))

    def _has(self, least: int) -> bool:
        return any(len(m.candidates) >= least for m in self.threads.values())

    @initialize()
    def two_threads(self) -> None:
        for name in ("Tent", "Stove"):
            thread = self.db.threads.create(name=name, category_id=self.category_id)
            self.threads[thread.id] = _ModelThread()
            for index in range(3):
                self._add(thread.id, f"{name} {index}")

    def _add(self, thread_id: int, name: str) -> None:
        added = self.db.threads.add_candidate(thread_id, name=name)
        assert (added.thread_id, added.name, added.category_id) == (
            thread_id, name, self.category_id,
        )  # fmt: skip
        self.threads[thread_id].candidates.append(added.id)
        self.names[added.id] = name

    @precondition(lambda self: len(self.threads) < 3)
    @rule(name=NAMES)
    def create_thread(self, name: str) -> None:
        thread = self.db.threads.create(name=name, category_id=self.category_id)
        assert (thread.name, thread.status) == (name, "active")
        self.threads[thread.id] = _ModelThread()

    @precondition(lambda self: self.threads)
    @rule(data=st.data(), name=NAMES)
    def add_candidate(self, data: st.DataObject, name: str) -> None:
        self._add(self._with_candidates(data, 0), name)

    @precondition(lambda self: self._has(2))
    @rule(data=st.data(), how=st.sampled_from(["after", "before", "both"]))
    def move_candidate(self, data: st.DataObject, how: str) -> None:
        model = self.threads[self._with_candidates(data, 2)].candidates
        moving = data.draw(st.sampled_from(model))
        others = [c for c in model if c != moving]
        slot = data.draw(st.integers(0 if how == "before" else 1, len(others)))
        if slot == len(others):  # nothing to put it before: only "after" names this place
            how = "after"
        after = others[slot - 1] if how in ("after", "both") else None
        before = others[slot] if how in ("before", "both") else None
        moved = self.db.threads.move_candidate(moving, after=after, before=before)
        assert moved.id == moving
        model[:] = [*others[:slot], moving, *others[slot:]]

    @precondition(lambda self: self._has(3))
    @rule(data=st.data())
    def squeeze(self, data: st.DataObject) -> None:
        """Moves into one gap until it must have been renumbered."""
        model = self.threads[self._with_candidates(data, 3)].candidates
        for _ in range(16):
            moving = model.pop()
            model.insert(1, moving)
            self.db.threads.move_candidate(moving, after=model[0])

    @precondition(lambda self: self._has(1) and len(self.threads) >= 2)
    @rule(data=st.data())
    def move_next_to_a_stranger(self, data: st.DataObject) -> None:
        thread_id = self._with_candidates(data, 1)
        moving = data.draw(st.sampled_from(self.threads[thread_id].candidates))
        strangers = [c for t, m in self.threads.items() if t != thread_id for c in m.candidates]
        stranger = data.draw(st.sampled_from([*strangers, 10**12]))
        with pytest.raises(InvalidReferenceError):
            self.db.threads.move_candidate(moving, after=stranger)

    @precondition(lambda self: self._has(2))
    @rule(data=st.data())
    def delete_candidate(self, data: st.DataObject) -> None:
        model = self.threads[self._with_candidates(data, 2)]
        doomed = data.draw(st.sampled_from(model.candidates))
        self.db.threads.delete_candidate(doomed)
        model.candidates.remove(doomed)
        if model.resolved_candidate_id == doomed:
            model.resolved_candidate_id = None

    @precondition(lambda self: self._has(1))
    @rule(data=st.data())
    def resolve(self, data: st.DataObject) -> None:
        thread_id = self._with_candidates(data, 1)
        model = self.threads[thread_id]
        pick = data.draw(st.sampled_from(model.candidates))
        if model.status == "resolved":
            with pytest.raises(InvalidStateError):
                self.db.threads.resolve(thread_id, pick)
            return
        resolution = self.db.threads.resolve(thread_id, pick)
        assert (resolution.item.name, resolution.item.quantity) == (self.names[pick], 1)
        assert resolution.thread.resolved_candidate_id == pick
        model.status, model.resolved_candidate_id = "resolved", pick
        self.items += 1
        counts = {c.id: c.item_count for c in self.db.categories.list()}
        assert counts[self.category_id] == self.items

    @precondition(lambda self: any(m.status == "resolved" for m in self.threads.values()))
    @rule(data=st.data())
    def unresolve(self, data: st.DataObject) -> None:
        resolved = sorted(t for t, m in self.threads.items() if m.status == "resolved")
        thread_id = data.draw(st.sampled_from(resolved))
        assert self.db.threads.unresolve(thread_id).status == "active"
        self.threads[thread_id].status = "active"
        self.threads[thread_id].resolved_candidate_id = None
        with pytest.raises(InvalidStateError):
            self.db.threads.unresolve(thread_id)

    @precondition(lambda self: len(self.threads) > 2)
    @rule(data=st.data())
    def delete_thread(self, data: st.DataObject) -> None:
        thread_id = self._with_candidates(data, 0)
        self.db.threads.delete(thread_id)
        del self.threads[thread_id]

    @invariant()
    def matches_the_model(self) -> None:
        summaries = {
            s.thread.id: s.candidate_count for s in self.db.threads.list(limit=1000).threads
        }
        assert summaries == {t: len(m.candidates) for t, m in self.threads.items()}
        for thread_id, model in self.threads.items():
            detail = self.db.threads.get(thread_id)
            assert [c.id for c in detail.candidates] == model.candidates
            orders = [c.sort_order for c in detail.candidates]
            assert all(low < high for low, high in itertools.pairwise(orders))
            assert (detail.thread.status, detail.thread.resolved_candidate_id) == (
                model.status, model.resolved_candidate_id,
            )  # fmt: skip


def test_threads_state_machine(gearbox_connection: Connection) -> None:
    ThreadMachine.connection = gearbox_connection
    run = settings(max_examples=10, stateful_step_count=20, deadline=None)
    assert completed_runs(ThreadMachine, run) > 0
