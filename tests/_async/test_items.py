"""Items repository: the same tests run against the async and the sync API."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import attrs
import pytest

from gearbox_db import (
    AsyncDatabase,
    GearboxDBError,
    InvalidReferenceError,
    NotFoundError,
    ValidationError,
)
from gearbox_db.records import Category, Item
from tests.concurrency import agather

from ._connect import connect

MISSING = 10**12


# --- create / get ---------------------------------------------------------------------------


async def test_create_returns_every_field_and_the_category(
    db: AsyncDatabase, cook: Category
) -> None:
    item = await db.items.create(
        name="Pot",
        category_id=cook.id,
        weight_grams=120.5,
        price_cents=2599,
        quantity=2,
        notes="titanium",
        product_url="https://example.com/pot",
        image_filename="pot.jpg",
        image_source_url="https://example.com/pot.jpg",
    )
    assert (item.name, item.weight_grams, item.price_cents, item.quantity) == (
        "Pot",
        120.5,
        2599,
        2,
    )
    assert (item.notes, item.product_url) == ("titanium", "https://example.com/pot")
    assert (item.image_filename, item.image_source_url) == (
        "pot.jpg",
        "https://example.com/pot.jpg",
    )
    assert (item.category_id, item.category_name, item.category_icon) == (cook.id, "Cook", "flame")
    assert item.created_at.tzinfo is not None
    assert item.updated_at == item.created_at
    assert await db.items.get(item.id) == item


async def test_create_defaults(db: AsyncDatabase, cook: Category) -> None:
    item = await db.items.create(name="Spork", category_id=cook.id)
    assert item.quantity == 1
    optional = (item.weight_grams, item.price_cents, item.notes, item.product_url)
    assert optional == (None, None, None, None)
    assert (item.image_filename, item.image_source_url) == (None, None)


async def test_create_in_an_unknown_category(db: AsyncDatabase) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        await db.items.create(name="Ghost", category_id=MISSING)
    assert info.value.constraint == "fk_items_category_id_categories"
    assert "category does not exist" in str(info.value)
    assert info.value.__cause__ is not None


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ""},
        {"name": "  \t"},
        {"name": "a\x00b"},
        {"name": 42},
        {"weight_grams": -0.5},
        {"weight_grams": math.inf},
        {"weight_grams": math.nan},
        {"weight_grams": 10**400},  # an int too large for a double
        {"weight_grams": "12"},
        {"price_cents": -1},
        {"price_cents": 1.5},
        {"price_cents": 2**31},
        {"quantity": 0},
        {"quantity": True},
        {"category_id": 0},
        {"notes": "x\x00"},
        {"product_url": "\x00"},
        {"image_filename": "a\x00.jpg"},
        {"image_source_url": "\x00http"},
    ],
)
async def test_create_validates_before_writing(
    db: AsyncDatabase, cook: Category, fields: dict[str, Any]
) -> None:
    arguments: dict[str, Any] = {"name": "Pot", "category_id": cook.id, **fields}
    with pytest.raises(ValidationError) as info:
        await db.items.create(**arguments)
    assert info.value.__cause__ is None  # refused before any I/O
    assert next(iter(fields)) in str(info.value)


async def test_get_missing_and_invalid_ids(db: AsyncDatabase) -> None:
    with pytest.raises(NotFoundError):
        await db.items.get(MISSING)
    with pytest.raises(ValidationError):
        await db.items.get(0)


# --- update / delete / duplicate ------------------------------------------------------------


async def test_update_is_partial_and_none_clears(
    db: AsyncDatabase, cook: Category, sleep: Category
) -> None:
    item = await db.items.create(
        name="Pot", category_id=cook.id, weight_grams=120.0, price_cents=900, notes="old"
    )
    updated = await db.items.update(item.id, name="Big pot", weight_grams=None, notes=None)
    assert (updated.name, updated.weight_grams, updated.notes) == ("Big pot", None, None)
    assert (updated.price_cents, updated.category_id, updated.created_at) == (
        900,
        cook.id,
        item.created_at,
    )
    assert updated.updated_at > item.updated_at
    moved = await db.items.update(item.id, category_id=sleep.id, quantity=3)
    assert (moved.category_name, moved.category_icon, moved.quantity) == ("Sleep", "moon", 3)
    assert moved.updated_at > updated.updated_at
    assert await db.items.get(item.id) == moved


async def test_update_errors(db: AsyncDatabase, cook: Category) -> None:
    item = await db.items.create(name="Pot", category_id=cook.id)
    with pytest.raises(NotFoundError):
        await db.items.update(MISSING, name="x")
    with pytest.raises(InvalidReferenceError) as info:
        await db.items.update(item.id, category_id=MISSING)
    assert info.value.__cause__ is not None
    with pytest.raises(ValidationError, match="nothing to update"):
        await db.items.update(item.id)
    for required in ("name", "category_id", "quantity"):
        cleared: dict[str, Any] = {required: None}
        with pytest.raises(ValidationError, match=required):
            await db.items.update(item.id, **cleared)
    with pytest.raises(ValidationError):
        await db.items.update(item.id, notes="\x00")
    assert await db.items.get(item.id) == item


async def test_delete(db: AsyncDatabase, cook: Category) -> None:
    item = await db.items.create(name="Pot", category_id=cook.id)
    await db.items.delete(item.id)
    with pytest.raises(NotFoundError):
        await db.items.get(item.id)
    with pytest.raises(NotFoundError):
        await db.items.delete(item.id)


async def test_duplicate_copies_every_field(db: AsyncDatabase, cook: Category) -> None:
    item = await db.items.create(
        name="Stake", category_id=cook.id, weight_grams=9.5, price_cents=150, quantity=8,
        notes="n", product_url="u", image_filename="f", image_source_url="s",
    )  # fmt: skip
    copy = await db.items.duplicate(item.id)
    assert copy.id != item.id
    fresh = ("id", "created_at", "updated_at")
    assert {k: v for k, v in attrs.asdict(copy).items() if k not in fresh} == {
        k: v for k, v in attrs.asdict(item).items() if k not in fresh
    }
    assert await db.items.get(copy.id) == copy
    with pytest.raises(NotFoundError):
        await db.items.duplicate(MISSING)


# --- totals ---------------------------------------------------------------------------------


async def test_totals_count_every_unit(db: AsyncDatabase, cook: Category) -> None:
    empty = await db.items.totals()
    assert (empty.unit_count, empty.total_weight_grams, empty.total_cost_cents) == (0, 0.0, 0)
    assert empty.unweighed_count == 0
    await db.items.create(
        name="Fuel", category_id=cook.id, weight_grams=100.5, price_cents=300, quantity=3
    )
    await db.items.create(name="Mystery", category_id=cook.id, quantity=2, price_cents=2**31 - 1)
    await db.items.create(name="Pot", category_id=cook.id, weight_grams=80.0)
    totals = await db.items.totals()
    assert (totals.unit_count, totals.total_weight_grams, totals.unweighed_count) == (6, 381.5, 1)
    assert totals.total_cost_cents == 900 + 2 * (2**31 - 1)  # beyond 32 bits


# --- concurrency ----------------------------------------------------------------------------


async def race(*calls: Callable[[], Awaitable[Any]]) -> list[Any]:
    """Run ``calls`` at the same time (each on its own pooled connection, released
    together by a barrier); their results or raised exceptions, in order."""
    barrier = asyncio.Barrier(len(calls))

    async def started(call: Callable[[], Awaitable[Any]]) -> Any:
        await barrier.wait()
        return await call()

    return await agather(*(partial(started, call) for call in calls))


async def test_concurrent_partial_updates_both_stick(gearbox_database_url: str) -> None:
    """Two connections updating different fields of one item at once: no lost update."""
    async with connect(gearbox_database_url) as db:
        category = await db.categories.create(name="Shelter")
        for _ in range(5):
            item = await db.items.create(name="Tarp", category_id=category.id)
            results = await race(
                partial(db.items.update, item.id, name="Flat tarp"),
                partial(db.items.update, item.id, weight_grams=310.5),
            )
            assert all(isinstance(result, Item) for result in results), results
            final = await db.items.get(item.id)
            assert (final.name, final.weight_grams) == ("Flat tarp", 310.5)


async def test_category_delete_racing_a_move_or_a_duplicate(gearbox_database_url: str) -> None:
    """Moving or duplicating an item into a category being deleted: either the
    write lands first (and the delete moves it to Uncategorized) or it gets
    InvalidReferenceError; never a raw error, never a failed delete."""
    async with connect(gearbox_database_url) as db:
        home = await db.categories.create(name="Home")
        for n in range(6):
            doomed = await db.categories.create(name=f"Doomed {n}")
            mover = await db.items.create(name="Mover", category_id=home.id)
            copied = await db.items.create(name="Copied", category_id=doomed.id)
            deleted, moved, copy = await race(
                partial(db.categories.delete, doomed.id),
                partial(db.items.update, mover.id, category_id=doomed.id),
                partial(db.items.duplicate, copied.id),
            )
            assert deleted is None, repr(deleted)
            for outcome in (moved, copy):
                if isinstance(outcome, BaseException):
                    assert isinstance(outcome, InvalidReferenceError), repr(outcome)
                    assert outcome.__cause__ is not None
                else:
                    assert isinstance(outcome, Item)
                    stored = await db.items.get(outcome.id)
                    assert stored.category_name == "Uncategorized"
            if isinstance(moved, BaseException):
                assert (await db.items.get(mover.id)).category_id == home.id


async def test_delete_racing_a_duplicate_of_the_same_item(gearbox_database_url: str) -> None:
    """The delete always succeeds; the duplicate either copies the item or
    finds it gone (NotFoundError)."""
    async with connect(gearbox_database_url) as db:
        category = await db.categories.create(name="Kit")
        for _ in range(6):
            item = await db.items.create(name="Stake", category_id=category.id, quantity=4)
            deleted, copy = await race(
                partial(db.items.delete, item.id), partial(db.items.duplicate, item.id)
            )
            assert deleted is None, repr(deleted)
            if isinstance(copy, BaseException):
                assert isinstance(copy, NotFoundError), repr(copy)
            else:
                assert isinstance(copy, Item)
                assert (await db.items.get(copy.id)).quantity == 4
            with pytest.raises(NotFoundError):
                await db.items.get(item.id)


async def test_errors_are_the_librarys_own(db: AsyncDatabase) -> None:
    with pytest.raises(GearboxDBError):
        await db.items.create(name="x", category_id=MISSING)
