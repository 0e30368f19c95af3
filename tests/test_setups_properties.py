"""Property tests of the setups repository (sync API; hypothesis cannot drive async tests).

A state machine drives the repository (and the items it holds) against an
in-memory model and checks every result and the totals after each step;
hypothesis also throws any Unicode text at the setup names.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)
from sqlalchemy import Connection

from gearbox_db import (
    ConflictError,
    Database,
    InvalidReferenceError,
    NotFoundError,
    ValidationError,
)
from gearbox_db.records import Classification, SetupDetail, SetupEntry, SetupTotals
from gearbox_db.testing import isolated
from tests.stateful import completed_runs

CLASSIFICATIONS: tuple[Classification, ...] = ("base", "worn", "consumable")
CATEGORY_NAMES = ("Shelter", "Kitchen")  # sorted differently from creation order below

#: Any Unicode text PostgreSQL can store: no NUL, no lone surrogate.
any_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
names = any_text.filter(lambda text: text.strip() != "")
weights = st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False)
prices = st.none() | st.integers(min_value=0, max_value=2**31 - 1)
quantities = st.integers(min_value=1, max_value=5)
classifications = st.sampled_from(CLASSIFICATIONS)
ItemSpec = tuple[str, float | None, int | None, int]
item_specs = st.tuples(st.sampled_from(CATEGORY_NAMES), weights, prices, quantities)
fixture_ok = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@fixture_ok
@given(name=names)
def test_any_text_name_round_trips(gearbox_connection: Connection, name: str) -> None:
    with isolated(gearbox_connection) as connection:
        db = Database.from_connection(connection)
        setup = db.setups.create(name=name)
        assert setup.name == name
        assert db.setups.get(setup.id).setup.name == name
        assert [
            s.setup.name for s in db.setups.list(limit=1000).setups if s.setup.id == setup.id
        ] == [name]
        assert db.setups.rename(setup.id, name=name[::-1] + "x").name == name[::-1] + "x"


@fixture_ok
@given(before=any_text, after=any_text)
def test_a_nul_is_a_validation_error(
    gearbox_connection: Connection, before: str, after: str
) -> None:
    with isolated(gearbox_connection) as connection:
        db = Database.from_connection(connection)
        with pytest.raises(ValidationError):
            db.setups.create(name=f"{before}\x00{after}")
        setup = db.setups.create(name="Kept")
        with pytest.raises(ValidationError):
            db.setups.rename(setup.id, name=f"{before}\x00{after}")
        assert db.setups.get(setup.id).setup.name == "Kept"


@contextmanager
def _statements(connection: Connection) -> Iterator[list[str]]:
    """The statements the library runs on ``connection``'s psycopg connection in the
    block (savepoint commands left out): its ``execute`` is wrapped for the block."""
    driver: Any = connection.connection.driver_connection
    seen: list[str] = []
    original = driver.execute

    def record(query: Any, *args: Any, **kwargs: Any) -> Any:
        text = str(query)
        if not text.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO")):
            seen.append(text)
        return original(query, *args, **kwargs)

    driver.execute = record
    try:
        yield seen
    finally:
        del driver.execute


def test_totals_take_one_query_whatever_the_number_of_setups(
    gearbox_connection: Connection,
) -> None:
    db = Database.from_connection(gearbox_connection)
    category = db.categories.create(name="Counted").id
    items = [db.items.create(name=f"I{n}", category_id=category).id for n in range(3)]
    setup_ids: list[int] = []
    for count in (1, 2, 25):
        while len(setup_ids) < count:
            setup_ids.append(db.setups.create(name=f"S{len(setup_ids)}").id)
            db.setups.replace_items(setup_ids[-1], [(item, "base") for item in items])
        with _statements(gearbox_connection) as seen:
            listed = db.setups.list(limit=1000).setups
        assert len(seen) == 1
        assert {s.setup.id for s in listed} >= set(setup_ids)
    for read in (db.setups.get, db.setups.totals):
        with _statements(gearbox_connection) as seen:
            read(setup_ids[0])
        assert len(seen) == 1


@attrs.define
class ModelItem:
    name: str
    category: str
    weight: float | None
    price: int | None
    quantity: int


@attrs.define
class ModelSetup:
    name: str
    entries: dict[int, Classification] = attrs.Factory(dict)


def _close(actual: float, expected: float, scale: float) -> bool:
    # Sums of floats depend on the order of addition; pack = total - worn cancels.
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9 * max(scale, 1.0))


class SetupMachine(RuleBasedStateMachine):
    """Setups and items against a model; results checked after every rule, and
    every setup (entries and totals, through get and list) after every step.

    Ids are drawn from every id the run created, deleted ones included, so
    the rules also meet missing setups and items.
    """

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self._stack = ExitStack()
        self.db = Database.from_connection(self._stack.enter_context(isolated(connection)))
        self.category_ids = {
            name: self.db.categories.create(name=name).id for name in reversed(CATEGORY_NAMES)
        }
        self.model_items: dict[int, ModelItem] = {}
        self.model_setups: dict[int, ModelSetup] = {}
        self.item_ids: list[int] = []
        self.setup_ids: list[int] = []

    def teardown(self) -> None:
        self._stack.close()

    def _setup(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from(self.setup_ids), label="setup")

    def _item(self, data: st.DataObject, setup: int | None = None) -> int:
        """Any item; for a ``setup``, mostly one of its entries."""
        choices = st.sampled_from(self.item_ids)
        entries = sorted(self.model_setups[setup].entries) if setup in self.model_setups else []
        if entries:
            choices = st.sampled_from(entries) | choices
        return data.draw(choices, label="item")

    def _entries(self, data: st.DataObject) -> list[tuple[int, Classification]]:
        pairs = st.tuples(st.sampled_from(self.item_ids), classifications)
        return data.draw(st.lists(pairs, max_size=6, unique_by=lambda e: e[0]), label="entries")

    @initialize(specs=st.lists(item_specs, min_size=3, max_size=6), name=names, data=st.data())
    def start(self, specs: list[ItemSpec], name: str, data: st.DataObject) -> None:
        for spec in specs:
            self.create_item(spec)
        self.create_setup(name)
        self.replace_items(data)

    @rule(spec=item_specs)
    def create_item(self, spec: ItemSpec) -> None:
        category, weight, price, quantity = spec
        name = f"Item {len(self.item_ids):03d}"
        item = self.db.items.create(
            name=name,
            category_id=self.category_ids[category],
            weight_grams=weight,
            price_cents=price,
            quantity=quantity,
        )
        self.model_items[item.id] = ModelItem(name, category, weight, price, quantity)
        self.item_ids.append(item.id)

    @rule(data=st.data(), weight=weights, price=prices, quantity=quantities)
    def update_item(
        self, data: st.DataObject, weight: float | None, price: int | None, quantity: int
    ) -> None:
        item = self._item(data)
        if item not in self.model_items:
            return  # the items repository's own tests cover that
        self.db.items.update(item, weight_grams=weight, price_cents=price, quantity=quantity)
        model = self.model_items[item]
        model.weight, model.price, model.quantity = weight, price, quantity

    @rule(data=st.data())
    def delete_item(self, data: st.DataObject) -> None:
        item = self._item(data)
        if item in self.model_items:
            self.db.items.delete(item)
            del self.model_items[item]
            for setup in self.model_setups.values():
                setup.entries.pop(item, None)

    @rule(name=names)
    def create_setup(self, name: str) -> None:
        setup = self.db.setups.create(name=name)
        assert setup.name == name
        self.model_setups[setup.id] = ModelSetup(name)
        self.setup_ids.append(setup.id)

    @rule(data=st.data(), name=names)
    def rename(self, data: st.DataObject, name: str) -> None:
        setup = self._setup(data)
        if setup not in self.model_setups:
            with pytest.raises(NotFoundError):
                self.db.setups.rename(setup, name=name)
            return
        assert self.db.setups.rename(setup, name=name).name == name
        self.model_setups[setup].name = name

    @rule(data=st.data())
    def delete_setup(self, data: st.DataObject) -> None:
        setup = self._setup(data)
        if setup not in self.model_setups:
            with pytest.raises(NotFoundError):
                self.db.setups.delete(setup)
            return
        self.db.setups.delete(setup)
        del self.model_setups[setup]
        with pytest.raises(NotFoundError):
            self.db.setups.get(setup)

    def _refused(self, setup: int, item: int, *, entry_needed: bool) -> type[Exception] | None:
        """The error an operation on one entry must raise, if any."""
        if setup not in self.model_setups:
            return NotFoundError
        present = item in self.model_setups[setup].entries
        if entry_needed:
            return None if present else NotFoundError
        if item not in self.model_items:
            return InvalidReferenceError
        return ConflictError if present else None

    @rule(data=st.data(), classification=classifications)
    def add_item(self, data: st.DataObject, classification: Classification) -> None:
        setup, item = self._setup(data), self._item(data)
        error = self._refused(setup, item, entry_needed=False)
        if error is not None:
            with pytest.raises(error):
                self.db.setups.add_item(setup, item, classification=classification)
            return
        entry = self.db.setups.add_item(setup, item, classification=classification)
        self.model_setups[setup].entries[item] = classification
        self._check_entry(entry, item, classification)

    @rule(data=st.data())
    def remove_item(self, data: st.DataObject) -> None:
        setup = self._setup(data)
        item = self._item(data, setup)
        error = self._refused(setup, item, entry_needed=True)
        if error is not None:
            with pytest.raises(error):
                self.db.setups.remove_item(setup, item)
            return
        self.db.setups.remove_item(setup, item)
        del self.model_setups[setup].entries[item]

    @rule(data=st.data(), classification=classifications)
    def set_classification(self, data: st.DataObject, classification: Classification) -> None:
        setup = self._setup(data)
        item = self._item(data, setup)
        error = self._refused(setup, item, entry_needed=True)
        if error is not None:
            with pytest.raises(error):
                self.db.setups.set_classification(setup, item, classification=classification)
            return
        entry = self.db.setups.set_classification(setup, item, classification=classification)
        self.model_setups[setup].entries[item] = classification
        self._check_entry(entry, item, classification)

    @rule(data=st.data())
    def replace_items(self, data: st.DataObject) -> None:
        setup, entries = self._setup(data), self._entries(data)
        if setup not in self.model_setups:
            error: type[Exception] | None = NotFoundError
        elif not {item for item, _ in entries} <= set(self.model_items):
            error = InvalidReferenceError
        else:
            error = None
        if error is not None:
            with pytest.raises(error):
                self.db.setups.replace_items(setup, entries)
            return
        detail = self.db.setups.replace_items(setup, entries)
        self.model_setups[setup].entries = dict(entries)
        self._check_detail(setup, detail)

    @rule(data=st.data())
    def totals(self, data: st.DataObject) -> None:
        setup = self._setup(data)
        if setup not in self.model_setups:
            with pytest.raises(NotFoundError):
                self.db.setups.totals(setup)
            return
        totals = self.db.setups.totals(setup)
        self._check_totals(totals, self.model_setups[setup].entries, breakdown=True)

    def _check_entry(self, entry: SetupEntry, item_id: int, classification: str) -> None:
        item, model = entry.item, self.model_items[item_id]
        assert (entry.classification, item.id, item.name) == (classification, item_id, model.name)
        category = (item.category_name, item.category_id)
        assert category == (model.category, self.category_ids[model.category])
        actual = (item.weight_grams, item.price_cents, item.quantity)
        assert actual == (model.weight, model.price, model.quantity)

    def _check_detail(self, setup_id: int, detail: SetupDetail) -> None:
        model = self.model_setups[setup_id]
        assert (detail.setup.id, detail.setup.name) == (setup_id, model.name)
        items = self.model_items
        order = sorted(model.entries, key=lambda i: (items[i].category, items[i].name))
        assert [e.item.id for e in detail.entries] == order
        for entry in detail.entries:
            self._check_entry(entry, entry.item.id, model.entries[entry.item.id])
        self._check_totals(detail.totals, model.entries, breakdown=True)

    def _figures(self, entries: dict[int, Classification]) -> tuple[list[float], list[int]]:
        """Model figures: [base, worn, consumable, total, pack], [cost, units, unweighed]."""
        grams = dict.fromkeys(CLASSIFICATIONS, 0.0)
        cost = units = unweighed = 0
        for item_id, classification in entries.items():
            item = self.model_items[item_id]
            grams[classification] += (item.weight or 0.0) * item.quantity
            cost += (item.price or 0) * item.quantity
            units += item.quantity
            unweighed += item.weight is None
        total = grams["base"] + grams["worn"] + grams["consumable"]
        return [*grams.values(), total, total - grams["worn"]], [cost, units, unweighed]

    def _check_figures(self, actual: Any, entries: dict[int, Classification]) -> None:
        floats, ints = self._figures(entries)
        got = [actual.base_grams, actual.worn_grams, actual.consumable_grams]
        got += [actual.total_grams, actual.pack_grams]
        assert all(_close(g, e, floats[3]) for g, e in zip(got, floats, strict=True)), (got, floats)
        assert [actual.cost_cents, actual.unit_count, actual.unweighed_count] == ints

    def _check_totals(
        self, totals: SetupTotals, entries: dict[int, Classification], *, breakdown: bool
    ) -> None:
        self._check_figures(totals, entries)
        if not breakdown:
            assert totals.by_category == ()
            return
        used = sorted({self.model_items[i].category for i in entries})
        assert [c.category_name for c in totals.by_category] == used
        for category in totals.by_category:
            assert category.category_id == self.category_ids[category.category_name]
            mine = {
                i: c
                for i, c in entries.items()
                if self.model_items[i].category == category.category_name
            }
            self._check_figures(category, mine)

    @invariant()
    def everything_matches_the_model(self) -> None:
        for setup_id in self.model_setups:
            self._check_detail(setup_id, self.db.setups.get(setup_id))
        listed = {
            s.setup.id: s
            for s in self.db.setups.list(limit=1000).setups
            if s.setup.id in self.model_setups
        }
        assert set(listed) == set(self.model_setups)
        for setup_id, summary in listed.items():
            assert summary.setup.name == self.model_setups[setup_id].name
            self._check_totals(summary.totals, self.model_setups[setup_id].entries, breakdown=False)


def test_setups_state_machine(gearbox_connection: Connection) -> None:
    class Machine(SetupMachine):
        def __init__(self) -> None:
            super().__init__(gearbox_connection)

    run = settings(max_examples=10, stateful_step_count=25, deadline=None)
    assert completed_runs(Machine, run) > 0
