"""Threads repository: the same tests run against the async and the sync API."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from functools import partial

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db import (
    AsyncDatabase,
    GearboxDBError,
    InvalidReferenceError,
    InvalidStateError,
    NotFoundError,
    ValidationError,
)
from gearbox_db.records import Candidate, Thread
from gearbox_db.schema import thread_candidates
from tests.concurrency import agather

from ._connect import connect

MISSING = 10**12


class _RollbackError(Exception):
    """Raised to roll a transaction back on purpose."""


async def _resolve_then_fail(db: AsyncDatabase, thread_id: int, candidate_id: int) -> None:
    async with db.transaction() as tx:
        await tx.threads.resolve(thread_id, candidate_id)
        raise _RollbackError


async def _thread(db: AsyncDatabase, name: str = "Which tent?") -> Thread:
    category = await db.categories.create(name=f"Shelter for {name}", icon="tent")
    return await db.threads.create(name=name, category_id=category.id)


async def _candidates(db: AsyncDatabase, thread: Thread, count: int) -> list[Candidate]:
    return [await db.threads.add_candidate(thread.id, name=f"C{i}") for i in range(count)]


async def _order(db: AsyncDatabase, thread_id: int) -> list[int]:
    return [c.id for c in (await db.threads.get(thread_id)).candidates]


async def _item_count(db: AsyncDatabase, category_id: int) -> int:
    return next(c.item_count for c in await db.categories.list() if c.id == category_id)


def _gaps(candidates: Sequence[Candidate]) -> list[float]:
    return [b.sort_order - a.sort_order for a, b in itertools.pairwise(candidates)]


async def test_create_get_and_list(db: AsyncDatabase) -> None:
    thread = await _thread(db)
    assert (thread.name, thread.status, thread.resolved_candidate_id) == (
        "Which tent?",
        "active",
        None,
    )
    detail = await db.threads.get(thread.id)
    assert (detail.thread, detail.candidates) == (thread, ())
    await db.threads.add_candidate(thread.id, name="Duplex")
    listed = {s.thread.id: s for s in (await db.threads.list(limit=1000)).threads}
    assert (listed[thread.id].thread, listed[thread.id].candidate_count) == (thread, 1)


async def test_list_filters_by_status_newest_first(db: AsyncDatabase) -> None:
    first, second, third = [await _thread(db, f"T{i}") for i in range(3)]
    candidate = await db.threads.add_candidate(second.id, name="Pick me")
    await db.threads.resolve(second.id, candidate.id)
    everything = [s.thread.id for s in (await db.threads.list(limit=1000)).threads]
    assert everything[:3] == [third.id, second.id, first.id]
    active = [s.thread.id for s in (await db.threads.list(status="active", limit=1000)).threads]
    resolved = [s.thread.id for s in (await db.threads.list(status="resolved", limit=1000)).threads]
    assert (third.id in active, first.id in active, second.id in active) == (True, True, False)
    assert resolved == [second.id]
    with pytest.raises(ValidationError):
        await db.threads.list(status="closed")  # type: ignore[arg-type]


async def test_update_is_partial_and_moves_updated_at(db: AsyncDatabase) -> None:
    thread = await _thread(db)
    renamed = await db.threads.update(thread.id, name="Which shelter?")
    assert (renamed.name, renamed.category_id) == ("Which shelter?", thread.category_id)
    assert renamed.updated_at > thread.updated_at
    other = await db.categories.create(name="Other")
    moved = await db.threads.update(thread.id, category_id=other.id)
    assert (moved.name, moved.category_id) == ("Which shelter?", other.id)
    with pytest.raises(ValidationError):
        await db.threads.update(thread.id)


async def test_thread_errors(db: AsyncDatabase) -> None:
    thread = await _thread(db)
    with pytest.raises(InvalidReferenceError) as info:
        await db.threads.create(name="x", category_id=MISSING)
    assert info.value.constraint == "fk_threads_category_id_categories"
    assert info.value.__cause__ is not None
    with pytest.raises(InvalidReferenceError) as info:
        await db.threads.update(thread.id, category_id=MISSING)
    assert info.value.constraint == "fk_threads_category_id_categories"
    for missing in (
        lambda: db.threads.get(MISSING),
        lambda: db.threads.update(MISSING, name="x"),
        lambda: db.threads.delete(MISSING),
        lambda: db.threads.unresolve(MISSING),
    ):
        with pytest.raises(NotFoundError):
            await missing()
    for bad in ("", "  ", "a\x00b"):
        with pytest.raises(ValidationError):
            await db.threads.create(name=bad, category_id=thread.category_id)


async def test_delete_takes_the_candidates_and_leaves_the_item(db: AsyncDatabase) -> None:
    thread = await _thread(db)
    kept, other = await _candidates(db, thread, 2)
    resolution = await db.threads.resolve(thread.id, kept.id)
    await db.threads.delete(thread.id)
    with pytest.raises(NotFoundError):
        await db.threads.get(thread.id)
    with pytest.raises(NotFoundError):
        await db.threads.delete_candidate(other.id)
    assert await _item_count(db, resolution.item.category_id) == 1


async def test_add_candidate_stores_every_field_and_goes_last(db: AsyncDatabase) -> None:
    thread = await _thread(db)
    first = await db.threads.add_candidate(thread.id, name="Plain")
    assert (first.category_id, first.status, first.sort_order, first.weight_grams) == (
        thread.category_id, "researching", 0.0, None,
    )  # fmt: skip
    other = await db.categories.create(name="Bags")
    full = await db.threads.add_candidate(
        thread.id, name="Full", category_id=other.id, weight_grams=1234.5, price_cents=45900,
        notes="n", product_url="https://x.example/p", image_filename="f.jpg",
        image_source_url="https://x.example/i.jpg", status="ordered", pros="light", cons="pricey",
    )  # fmt: skip
    assert (full.thread_id, full.name, full.category_id, full.sort_order) == (
        thread.id, "Full", other.id, 1.0,
    )  # fmt: skip
    assert (full.weight_grams, full.price_cents, full.notes, full.product_url) == (
        1234.5, 45900, "n", "https://x.example/p",
    )  # fmt: skip
    assert (full.image_filename, full.image_source_url, full.status, full.pros, full.cons) == (
        "f.jpg", "https://x.example/i.jpg", "ordered", "light", "pricey",
    )  # fmt: skip
    assert (await db.threads.get(thread.id)).candidates == (first, full)


async def test_add_candidate_errors(db: AsyncDatabase) -> None:
    thread = await _thread(db)
    with pytest.raises(NotFoundError):
        await db.threads.add_candidate(MISSING, name="x")
    with pytest.raises(InvalidReferenceError) as info:
        await db.threads.add_candidate(thread.id, name="x", category_id=MISSING)
    assert info.value.constraint == "fk_thread_candidates_category_id_categories"
    assert info.value.__cause__ is not None
    for bad in (
        {"name": " "},
        {"name": "a\x00"},
        {"name": "x", "notes": "\x00"},
        {"name": "x", "weight_grams": -1.0},
        {"name": "x", "weight_grams": float("nan")},
        {"name": "x", "price_cents": -5},
        {"name": "x", "status": "lost"},
    ):
        with pytest.raises(ValidationError):
            await db.threads.add_candidate(thread.id, **bad)
    assert (await db.threads.get(thread.id)).candidates == ()


async def test_update_candidate_is_partial(db: AsyncDatabase) -> None:
    thread = await _thread(db)
    candidate = await db.threads.add_candidate(thread.id, name="Tent", notes="n", weight_grams=900)
    changed = await db.threads.update_candidate(candidate.id, status="arrived", notes=None)
    assert (changed.name, changed.weight_grams, changed.notes, changed.status) == (
        "Tent", 900.0, None, "arrived",
    )  # fmt: skip
    assert changed.sort_order == candidate.sort_order
    assert changed.updated_at > candidate.updated_at
    assert (await db.threads.get(thread.id)).candidates == (changed,)
    with pytest.raises(ValidationError):
        await db.threads.update_candidate(candidate.id)
    with pytest.raises(ValidationError):
        await db.threads.update_candidate(candidate.id, name="")
    with pytest.raises(NotFoundError):
        await db.threads.update_candidate(MISSING, name="x")
    with pytest.raises(InvalidReferenceError) as info:
        await db.threads.update_candidate(candidate.id, category_id=MISSING)
    assert info.value.__cause__ is not None


async def test_delete_candidate(db: AsyncDatabase) -> None:
    thread = await _thread(db)
    a, b = await _candidates(db, thread, 2)
    await db.threads.delete_candidate(a.id)
    assert await _order(db, thread.id) == [b.id]
    with pytest.raises(NotFoundError):
        await db.threads.delete_candidate(a.id)
    await db.threads.resolve(thread.id, b.id)
    await db.threads.delete_candidate(b.id)
    after = (await db.threads.get(thread.id)).thread
    assert (after.status, after.resolved_candidate_id) == ("resolved", None)


async def test_move_candidate(db: AsyncDatabase) -> None:
    thread = await _thread(db)
    a, b, c, d = (x.id for x in await _candidates(db, thread, 4))
    moved = await db.threads.move_candidate(d, before=a)
    assert (moved.id, moved.sort_order) == (d, -1.0)
    assert await _order(db, thread.id) == [d, a, b, c]
    await db.threads.move_candidate(d, after=c)
    assert await _order(db, thread.id) == [a, b, c, d]
    await db.threads.move_candidate(a, after=b, before=c)
    assert await _order(db, thread.id) == [b, a, c, d]
    await db.threads.move_candidate(c, after=b)
    assert await _order(db, thread.id) == [b, c, a, d]
    await db.threads.move_candidate(c, before=d)
    assert await _order(db, thread.id) == [b, a, c, d]


async def test_move_candidate_errors(db: AsyncDatabase) -> None:
    thread, elsewhere = await _thread(db, "T"), await _thread(db, "U")
    a, b, c, d = (x.id for x in await _candidates(db, thread, 4))
    (stranger,) = (x.id for x in await _candidates(db, elsewhere, 1))
    cases: list[tuple[type[GearboxDBError], int, dict[str, int]]] = [
        (ValidationError, a, {}),
        (ValidationError, a, {"after": a}),
        (ValidationError, a, {"after": b, "before": b}),
        (ValidationError, a, {"before": -1}),
        (NotFoundError, MISSING, {"after": a}),
        (InvalidReferenceError, a, {"after": MISSING}),
        (InvalidReferenceError, a, {"before": stranger}),
        (InvalidStateError, a, {"after": c, "before": b}),
        (InvalidStateError, a, {"after": b, "before": d}),
    ]
    for error, candidate_id, neighbours in cases:
        with pytest.raises(error):
            await db.threads.move_candidate(candidate_id, **neighbours)
    assert await _order(db, thread.id) == [a, b, c, d]
    assert [x.id for x in (await db.threads.get(elsewhere.id)).candidates] == [stranger]


async def test_moves_into_one_gap_renumber_when_it_is_too_small(db: AsyncDatabase) -> None:
    thread = await _thread(db)
    model = [x.id for x in await _candidates(db, thread, 4)]
    renumbered = False
    for _ in range(45):  # each move halves the gap after the first candidate
        moving = model.pop()
        model.insert(1, moving)
        await db.threads.move_candidate(moving, after=model[0])
        candidates = (await db.threads.get(thread.id)).candidates
        assert [x.id for x in candidates] == model
        assert min(_gaps(candidates)) > 0
        renumbered = renumbered or [x.sort_order for x in candidates] == [0.0, 1.0, 2.0, 3.0]
    assert renumbered
    assert min(_gaps(candidates)) > 1e-6


async def test_equal_sort_orders_keep_id_order_and_moves_still_work(
    db: AsyncDatabase, gearbox_async_connection: AsyncConnection
) -> None:
    thread = await _thread(db)
    a, b, c = (x.id for x in await _candidates(db, thread, 3))
    tie = update(thread_candidates).where(thread_candidates.c.thread_id == thread.id)
    await gearbox_async_connection.execute(tie.values(sort_order=7.0))
    assert await _order(db, thread.id) == [a, b, c]
    await db.threads.move_candidate(a, after=b, before=c)
    candidates = (await db.threads.get(thread.id)).candidates
    assert [(x.id, x.sort_order) for x in candidates] == [(b, 0.0), (a, 1.0), (c, 2.0)]


async def test_resolve_creates_the_item_from_the_candidate(db: AsyncDatabase) -> None:
    thread = await _thread(db)
    bags = await db.categories.create(name="Bags", icon="bag")
    await db.threads.add_candidate(thread.id, name="Runner-up")
    winner = await db.threads.add_candidate(
        thread.id, name="Winner", category_id=bags.id, weight_grams=812.25, price_cents=19900,
        notes="n", product_url="u", image_filename="f", image_source_url="s", pros="p",
    )  # fmt: skip
    resolution = await db.threads.resolve(thread.id, winner.id)
    assert (resolution.thread.status, resolution.thread.resolved_candidate_id) == (
        "resolved", winner.id,
    )  # fmt: skip
    item = resolution.item
    assert (item.name, item.weight_grams, item.price_cents, item.quantity) == (
        "Winner", 812.25, 19900, 1,
    )  # fmt: skip
    assert (item.category_id, item.category_name, item.category_icon) == (bags.id, "Bags", "bag")
    assert (item.notes, item.product_url, item.image_filename, item.image_source_url) == (
        "n", "u", "f", "s",
    )  # fmt: skip
    assert (await db.threads.get(thread.id)).thread == resolution.thread
    summary = next(c for c in await db.categories.list() if c.id == bags.id)
    assert (summary.item_count, summary.total_weight_grams) == (1, 812.25)


async def test_resolve_errors_create_nothing(db: AsyncDatabase) -> None:
    thread, other = await _thread(db, "T"), await _thread(db, "U")
    (mine,) = await _candidates(db, thread, 1)
    (theirs,) = await _candidates(db, other, 1)
    cases: list[tuple[type[GearboxDBError], int, int]] = [
        (NotFoundError, MISSING, mine.id),
        (NotFoundError, thread.id, MISSING),
        (InvalidReferenceError, thread.id, theirs.id),
        (ValidationError, thread.id, 0),
    ]
    for error, thread_id, candidate_id in cases:
        with pytest.raises(error):
            await db.threads.resolve(thread_id, candidate_id)
    assert (await db.threads.get(thread.id)).thread == thread
    await db.threads.resolve(thread.id, mine.id)
    with pytest.raises(InvalidStateError):
        await db.threads.resolve(thread.id, mine.id)
    assert await _item_count(db, thread.category_id) == 1


async def test_unresolve_reopens_and_keeps_the_item(db: AsyncDatabase) -> None:
    thread = await _thread(db)
    (candidate,) = await _candidates(db, thread, 1)
    with pytest.raises(InvalidStateError):
        await db.threads.unresolve(thread.id)
    await db.threads.resolve(thread.id, candidate.id)
    reopened = await db.threads.unresolve(thread.id)
    assert (reopened.status, reopened.resolved_candidate_id) == ("active", None)
    assert await _item_count(db, thread.category_id) == 1
    await db.threads.resolve(thread.id, candidate.id)
    assert await _item_count(db, thread.category_id) == 2


async def test_resolve_in_a_rolled_back_transaction_leaves_nothing(db: AsyncDatabase) -> None:
    thread = await _thread(db)
    (candidate,) = await _candidates(db, thread, 1)
    with pytest.raises(_RollbackError):
        await _resolve_then_fail(db, thread.id, candidate.id)
    assert (await db.threads.get(thread.id)).thread.status == "active"
    assert await _item_count(db, thread.category_id) == 0


async def _resolve_at(barrier: asyncio.Barrier, db: AsyncDatabase, thread: int, pick: int) -> int:
    await barrier.wait()
    return (await db.threads.resolve(thread, pick)).item.id


async def _move_at(barrier: asyncio.Barrier, db: AsyncDatabase, candidate: int, head: int) -> int:
    await barrier.wait()
    return (await db.threads.move_candidate(candidate, after=head)).id


async def _add_at(barrier: asyncio.Barrier, db: AsyncDatabase, thread: int) -> int:
    await barrier.wait()
    return (await db.threads.add_candidate(thread, name="Racer")).id


async def test_concurrent_resolves_create_exactly_one_item(gearbox_database_url: str) -> None:
    async with connect(gearbox_database_url) as db:
        for round_ in range(5):
            thread = await _thread(db, f"Race {round_}")
            picks = [c.id for c in await _candidates(db, thread, 2)]
            barrier = asyncio.Barrier(2)
            outcomes = await agather(
                *(partial(_resolve_at, barrier, db, thread.id, c) for c in picks)
            )
            errors = [o for o in outcomes if isinstance(o, BaseException)]
            assert len(errors) == 1, outcomes
            assert isinstance(errors[0], InvalidStateError), repr(errors[0])
            assert await _item_count(db, thread.category_id) == 1


async def test_concurrent_moves_keep_a_consistent_order(gearbox_database_url: str) -> None:
    """Rounds of four concurrent moves into one gap (forcing a renumbering on the
    way): every round ends in an order some serial execution would produce."""
    async with connect(gearbox_database_url) as db:
        thread = await _thread(db)
        order = [x.id for x in await _candidates(db, thread, 6)]
        for _ in range(10):
            moving, barrier = order[2:], asyncio.Barrier(4)
            moves = (partial(_move_at, barrier, db, m, order[0]) for m in moving)
            assert await agather(*moves) == moving
            candidates = (await db.threads.get(thread.id)).candidates
            new = [x.id for x in candidates]
            assert (new[0], sorted(new[1:5]), new[5]) == (order[0], sorted(moving), order[1])
            assert min(_gaps(candidates)) > 0
            order = new
        assert min(_gaps(candidates)) > 1e-6  # renumbered: 40 halvings would leave 2**-40


async def test_concurrent_adds_get_distinct_places(gearbox_database_url: str) -> None:
    async with connect(gearbox_database_url) as db:
        thread = await _thread(db)
        barrier = asyncio.Barrier(6)
        added = await agather(*(partial(_add_at, barrier, db, thread.id) for _ in range(6)))
        candidates = (await db.threads.get(thread.id)).candidates
        assert [x.id for x in candidates] == sorted(a for a in added if isinstance(a, int))
        assert [x.sort_order for x in candidates] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
