"""``category_totals`` under concurrent writers: real concurrent connections
(tasks in the async suite, threads in the generated sync one), started together
by a barrier. The totals stay exact, and writers touching the same categories
in opposite directions wait for each other instead of deadlocking (each
statement locks the totals rows it changes in category id order)."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from functools import partial

from gearbox_db import AsyncDatabase
from gearbox_db.records import Item
from tests.concurrency import agather

from ._connect import connect

WRITERS = 6
ROUNDS = 8
#: Decimal weights (not dyadic: a double sum would drift), a heavy one and none.
WEIGHTS = (0.1, 12.3, 812.25, None, 1e-300)


async def _write(db: AsyncDatabase, barrier: asyncio.Barrier, k: int, a: int, b: int) -> None:
    await barrier.wait()
    made: list[Item] = []
    for n in range(ROUNDS):
        made.append(
            await db.items.create(
                name=f"writer {k} item {n}",
                category_id=(a, b)[(k + n) % 2],
                weight_grams=WEIGHTS[n % len(WEIGHTS)],
                price_cents=1000 * k + n,
                quantity=k + 1,
            )
        )
    for item in made[::2]:  # half of them change sides: a -> b and b -> a at once
        await db.items.update(item.id, category_id=b if item.category_id == a else a)
    await db.items.update(made[3].id, quantity=7, weight_grams=0.2)
    await db.items.duplicate(made[4].id)
    await db.items.delete(made[1].id)


async def _every_item(db: AsyncDatabase) -> list[Item]:
    page = await db.items.list(limit=100)
    found = list(page.items)
    while page.next_cursor is not None:
        page = await db.items.list(limit=100, cursor=page.next_cursor)
        found.extend(page.items)
    return found


def _figures(items: list[Item]) -> tuple[int, float, int]:
    grams = sum((Fraction(repr(i.weight_grams or 0.0)) * i.quantity for i in items), Fraction())
    return len(items), float(grams), sum((i.price_cents or 0) * i.quantity for i in items)


async def test_concurrent_writers_keep_the_totals_exact(gearbox_database_url: str) -> None:
    async with connect(gearbox_database_url) as db:
        a = (await db.categories.create(name="Shelter")).id
        b = (await db.categories.create(name="Kitchen")).id
        barrier = asyncio.Barrier(WRITERS)
        results = await agather(*(partial(_write, db, barrier, k, a, b) for k in range(WRITERS)))
        assert [r for r in results if isinstance(r, BaseException)] == []
        items = await _every_item(db)
        listed = {c.id: c for c in await db.categories.list()}
        for category_id in (a, b):
            summary = listed[category_id]
            expected = _figures([i for i in items if i.category_id == category_id])
            assert (
                summary.item_count,
                summary.total_weight_grams,
                summary.total_cost_cents,
            ) == expected
        totals = await db.items.totals()
        assert totals.unit_count == sum(i.quantity for i in items)
        assert totals.unweighed_count == sum(i.weight_grams is None for i in items)
        assert (totals.total_weight_grams, totals.total_cost_cents) == _figures(items)[1:]


async def _move(db: AsyncDatabase, barrier: asyncio.Barrier, item_id: int, to: int) -> Item:
    await barrier.wait()
    return await db.items.update(item_id, category_id=to)


async def test_opposite_moves_wait_instead_of_deadlocking(gearbox_database_url: str) -> None:
    """Each move changes the totals rows of both categories, one task a -> b, the
    other b -> a, at once: ordered locks make the second wait, never deadlock."""
    async with connect(gearbox_database_url) as db:
        a = (await db.categories.create(name="Left")).id
        b = (await db.categories.create(name="Right")).id
        pairs = [
            (
                (await db.items.create(name=f"l{n}", category_id=a, weight_grams=1.5)).id,
                (await db.items.create(name=f"r{n}", category_id=b, weight_grams=2.5)).id,
            )
            for n in range(4)
        ]
        for round_ in range(10):
            there, back = (b, a) if round_ % 2 == 0 else (a, b)
            barrier = asyncio.Barrier(2 * len(pairs))
            moves = [partial(_move, db, barrier, left, there) for left, _ in pairs]
            moves += [partial(_move, db, barrier, right, back) for _, right in pairs]
            results = await agather(*moves)
            assert [r for r in results if isinstance(r, BaseException)] == []
        listed = {c.id: c for c in await db.categories.list()}
        assert (listed[a].item_count, listed[a].total_weight_grams) == (
            4,
            6.0,
        )  # an even number of rounds: back home
        assert (listed[b].item_count, listed[b].total_weight_grams) == (4, 10.0)
