"""Setups under concurrency: real concurrent connections (tasks in the async
suite, threads in the generated sync one), started together by a barrier."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import partial

from gearbox_db import AsyncDatabase, ConflictError
from gearbox_db.records import Classification, SetupDetail, SetupEntry
from tests.concurrency import agather

from ._connect import connect


async def _items(db: AsyncDatabase, count: int) -> list[int]:
    category = (await db.categories.create(name="Gear")).id
    return [
        (await db.items.create(name=f"Item {n}", category_id=category)).id for n in range(count)
    ]


async def _entries(db: AsyncDatabase, setup_id: int) -> dict[int, Classification]:
    return {e.item.id: e.classification for e in (await db.setups.get(setup_id)).entries}


async def _replace(
    db: AsyncDatabase,
    barrier: asyncio.Barrier,
    setup_id: int,
    entries: Mapping[int, Classification],
) -> SetupDetail:
    await barrier.wait()
    return await db.setups.replace_items(setup_id, entries)


async def _add(
    db: AsyncDatabase, barrier: asyncio.Barrier, setup_id: int, item_id: int
) -> SetupEntry:
    await barrier.wait()
    return await db.setups.add_item(setup_id, item_id, classification="worn")


async def test_concurrent_replacements_never_mix(gearbox_database_url: str) -> None:
    """Two connections replace one setup's list at once: the result is one of
    the two lists, never a mix (the lists overlap, so a mix would show)."""
    async with connect(gearbox_database_url) as db:
        items = await _items(db, 6)
        setup = await db.setups.create(name="Contested")
        first: dict[int, Classification] = dict.fromkeys(items[:4], "base")
        second: dict[int, Classification] = dict.fromkeys(items[2:], "worn")
        for _ in range(5):
            barrier = asyncio.Barrier(2)
            results = await agather(
                partial(_replace, db, barrier, setup.id, first),
                partial(_replace, db, barrier, setup.id, second),
            )
            written = [
                {e.item.id: e.classification for e in r.entries}
                for r in results
                if isinstance(r, SetupDetail)
            ]
            assert written == [first, second], results
            assert await _entries(db, setup.id) in (first, second)


async def test_add_racing_a_replacement_never_breaks_it(gearbox_database_url: str) -> None:
    """Adding an item while another connection replaces the list with one that
    holds it: the replacement always succeeds; the adder either ran first (its
    entry is then replaced) or gets ConflictError."""
    async with connect(gearbox_database_url) as db:
        x, y = await _items(db, 2)
        setup = await db.setups.create(name="Racy")
        wanted: dict[int, Classification] = {x: "base", y: "consumable"}
        for _ in range(5):
            await db.setups.replace_items(setup.id, {})
            barrier = asyncio.Barrier(2)
            replaced, added = await agather(
                partial(_replace, db, barrier, setup.id, wanted),
                partial(_add, db, barrier, setup.id, x),
            )
            assert isinstance(replaced, SetupDetail), replaced
            assert isinstance(added, SetupEntry | ConflictError), added
            assert await _entries(db, setup.id) == wanted


async def test_concurrent_adds_of_one_item_one_wins(gearbox_database_url: str) -> None:
    async with connect(gearbox_database_url) as db:
        [item] = await _items(db, 1)
        for round_ in range(3):
            setup = await db.setups.create(name=f"Twice {round_}")
            barrier = asyncio.Barrier(2)
            results = await agather(
                partial(_add, db, barrier, setup.id, item),
                partial(_add, db, barrier, setup.id, item),
            )
            assert sorted(type(r).__name__ for r in results) == ["ConflictError", "SetupEntry"]
            assert await _entries(db, setup.id) == {item: "worn"}
