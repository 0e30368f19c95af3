"""A database on one shared connection under concurrent callers (issue 10, point 5).

An app under test built on ``AsyncDatabase.from_connection(gearbox_async_connection)``
serves requests at once: tasks in the async suite, threads in the generated
sync one, each started by a barrier. They take turns; no savepoint error.
"""

from __future__ import annotations

import asyncio
from functools import partial

from gearbox_db import AsyncDatabase, ConflictError
from gearbox_db.records import Category, CategorySummary, Item
from tests.concurrency import agather

ROUNDS = 5


async def _create(db: AsyncDatabase, barrier: asyncio.Barrier, name: str) -> Category:
    await barrier.wait()
    return await db.categories.create(name=name)


async def _list(db: AsyncDatabase, barrier: asyncio.Barrier) -> tuple[CategorySummary, ...]:
    await barrier.wait()
    return await db.categories.list()


async def _in_transaction(db: AsyncDatabase, barrier: asyncio.Barrier, name: str) -> Item:
    await barrier.wait()
    async with db.transaction() as tx:
        category = await tx.categories.create(name=name)
        return await tx.items.create(name=f"{name} item", category_id=category.id)


async def test_concurrent_operations_take_turns(db: AsyncDatabase) -> None:
    for n in range(ROUNDS):
        barrier = asyncio.Barrier(10)
        writes = [partial(_create, db, barrier, f"Round {n} #{k}") for k in range(5)]
        reads = [partial(_list, db, barrier) for _ in range(5)]
        results = await agather(*writes, *reads)
        assert [r for r in results if isinstance(r, BaseException)] == []
    names = {c.name for c in await db.categories.list()}
    assert {f"Round {n} #{k}" for n in range(ROUNDS) for k in range(5)} <= names


async def test_concurrent_transactions_and_a_failing_one(db: AsyncDatabase) -> None:
    await db.categories.create(name="Taken")
    for n in range(ROUNDS):
        barrier = asyncio.Barrier(4)
        results = await agather(
            partial(_in_transaction, db, barrier, f"Tx {n} a"),
            partial(_in_transaction, db, barrier, "Taken"),  # a conflict, undone alone
            partial(_in_transaction, db, barrier, f"Tx {n} b"),
            partial(_list, db, barrier),
        )
        assert isinstance(results[1], ConflictError)
        assert isinstance(results[0], Item)
        assert isinstance(results[2], Item)
        assert isinstance(results[3], tuple)
    assert (await db.items.totals()).unit_count == 2 * ROUNDS
