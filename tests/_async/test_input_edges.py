"""Inputs at the edges: longest keys, extreme numbers, far timestamps in any
session time zone, bad argument types, page sizes. Every call either works
or raises the library's ValidationError (never a driver error, never another
exception), and no accepted value makes a later read fail."""

from __future__ import annotations

import itertools
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db import AsyncDatabase, ValidationError

from ._accounts import LEGACY_HASH, REDIRECT

INT32_MAX = 2**31 - 1
#: A character that takes 4 bytes of UTF-8: the worst case for an index entry.
WIDE = "🎒"

_serial = itertools.count()

KeyedWrite = Callable[[AsyncDatabase, str], Awaitable[object]]


async def _category(db: AsyncDatabase, name: str) -> object:
    return await db.categories.create(name=name)


async def _renamed_category(db: AsyncDatabase, name: str) -> object:
    category = await db.categories.create(name=f"Short {next(_serial)}")
    return await db.categories.update(category.id, name=name)


async def _user(db: AsyncDatabase, name: str) -> object:
    return await db.users.create(username=name, password_hash=LEGACY_HASH)


async def _setting(db: AsyncDatabase, key: str) -> object:
    await db.settings.set(key, "value")
    return await db.settings.get(key)


async def _client(db: AsyncDatabase, client_id: str) -> object:
    return await db.oauth.register_client(client_id, redirect_uris=[REDIRECT])


KEYED_WRITES = [_category, _renamed_category, _user, _setting, _client]


@pytest.mark.parametrize("write", KEYED_WRITES)
async def test_uniquely_indexed_text_is_limited_before_the_server(
    db: AsyncDatabase, write: KeyedWrite
) -> None:
    """A text too long for a btree index entry (2,704 bytes) is refused by the
    library, naming the limit, not by the server (SQLSTATE 54000, which would
    also abort the caller's transaction)."""
    for too_long in ("x" * 501, WIDE * 501, "x" * 2800, "x" * 100_000):
        with pytest.raises(ValidationError, match="at most 500 characters"):
            await write(db, too_long)
    await write(db, WIDE * 500)  # the longest accepted fits the index, in the worst case


@pytest.mark.parametrize("entries", [None, 42, "12", b"12", 1.5, object()])
async def test_replace_items_refuses_what_is_not_a_list_of_entries(
    db: AsyncDatabase, entries: Any
) -> None:
    setup = await db.setups.create(name="Overnighter")
    with pytest.raises(ValidationError, match="entries must be"):
        await db.setups.replace_items(setup.id, entries)


async def test_list_limit_is_capped_at_ten_thousand(db: AsyncDatabase) -> None:
    category = await db.categories.create(name="Gear")
    await db.items.create(name="Tent", category_id=category.id)
    assert len((await db.items.list(limit=10_000)).items) == 1
    for limit in (10_001, 100_000, 2**31):
        with pytest.raises(ValidationError, match="10000"):
            await db.items.list(limit=limit)


async def test_extreme_weights_prices_and_quantities_never_break_a_read(
    db: AsyncDatabase,
) -> None:
    """Two items of 1e308 g (one of quantity 2) overflow a double; three of the
    largest price and quantity overflow 64 bits: the reads still work, weights
    come back as ``inf``, costs exactly."""
    category = await db.categories.create(name="Heavy")
    setup = await db.setups.create(name="Impossible")
    items = [
        await db.items.create(name="Rock", category_id=category.id, weight_grams=1e308),
        await db.items.create(
            name="Boulder", category_id=category.id, weight_grams=1e308, quantity=2
        ),
        *[
            await db.items.create(
                name=f"Gold {n}",
                category_id=category.id,
                price_cents=INT32_MAX,
                quantity=INT32_MAX,
            )
            for n in range(3)
        ],
    ]
    await db.setups.replace_items(setup.id, {item.id: "base" for item in items})
    cost = 3 * INT32_MAX * INT32_MAX  # above 2**63
    totals = await db.items.totals()
    assert (totals.total_weight_grams, totals.total_cost_cents) == (math.inf, cost)
    assert totals.unit_count == 3 + 3 * INT32_MAX
    summary = next(c for c in await db.categories.list() if c.name == "Heavy")
    assert (summary.total_weight_grams, summary.total_cost_cents) == (math.inf, cost)
    for figures in (
        await db.setups.totals(setup.id),
        (await db.setups.get(setup.id)).totals,
        next(s.totals for s in (await db.setups.list()).setups if s.setup.id == setup.id),
    ):
        assert (figures.base_grams, figures.total_grams, figures.cost_cents) == (
            math.inf,
            math.inf,
            cost,
        )
        assert isinstance(figures.cost_cents, int)


FAR = [
    datetime(9999, 12, 31, 23, 30, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1, 1, 1, 0, 30, tzinfo=UTC),
]


@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Kathmandu", "America/New_York", "UTC"])
async def test_far_timestamps_read_in_any_session_time_zone(
    db: AsyncDatabase, gearbox_async_connection: AsyncConnection, zone: str
) -> None:
    """A connection the caller owns may run in any TimeZone: 9999-12-31 23:30 UTC
    is year 10000 in Paris, which the driver cannot load by itself."""
    category = await db.categories.create(name="Gear")
    ids = [
        (await db.items.create(name=f"Item {n}", category_id=category.id)).id
        for n in range(len(FAR))
    ]
    await gearbox_async_connection.execute(text(f"SET LOCAL TimeZone = '{zone}'"))
    for item_id, when in zip(ids, FAR, strict=True):
        await gearbox_async_connection.execute(
            text("UPDATE items SET created_at = :when WHERE id = :id"),
            {"when": when, "id": item_id},
        )
        assert (await db.items.get(item_id)).created_at == when
    listed = {i.id: i.created_at for i in (await db.items.list(limit=10)).items}
    assert [listed[i] for i in ids] == FAR


async def test_the_smallest_weights_count_and_never_break_a_read(db: AsyncDatabase) -> None:
    """PostgreSQL raises on a double's underflow too: the smallest positive weights
    (subnormal included) are summed as they are."""
    category = await db.categories.create(name="Feathers")
    setup = await db.setups.create(name="Light")
    tiny = [5e-324, 2.2250738585072014e-308, 1e-300]
    created = [
        await db.items.create(name=f"Down {n}", category_id=category.id, weight_grams=weight)
        for n, weight in enumerate(tiny)
    ]
    await db.setups.replace_items(setup.id, {item.id: "worn" for item in created})
    assert (await db.items.totals()).total_weight_grams == sum(tiny)
    summary = next(c for c in await db.categories.list() if c.name == "Feathers")
    assert summary.total_weight_grams == sum(tiny)
    totals = await db.setups.totals(setup.id)
    assert (totals.worn_grams, totals.total_grams, totals.pack_grams) == (sum(tiny), sum(tiny), 0)
