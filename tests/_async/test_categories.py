"""Categories repository: the same tests run against the async and the sync API."""

from __future__ import annotations

import asyncio

import pytest

from gearbox_db import (
    AsyncDatabase,
    ConflictError,
    InvalidReferenceError,
    InvalidStateError,
    NotFoundError,
    ValidationError,
)
from tests.concurrency import agather

from ._connect import connect


async def test_create_get_and_get_by_name(db: AsyncDatabase) -> None:
    created = await db.categories.create(name="Shelter", icon="tent")
    assert (created.name, created.icon) == ("Shelter", "tent")
    assert await db.categories.get(created.id) == created
    assert await db.categories.get_by_name("Shelter") == created


async def test_names_are_unique_and_case_sensitive(db: AsyncDatabase) -> None:
    await db.categories.create(name="Tent")
    await db.categories.create(name="tent")
    with pytest.raises(ConflictError) as info:
        await db.categories.create(name="Tent")
    assert info.value.constraint == "uq_categories_name"
    assert info.value.__cause__ is not None


async def test_list_counts_items_and_weighs_every_unit(db: AsyncDatabase) -> None:
    cook = await db.categories.create(name="Cook")
    await db.items.create(name="Pot", category_id=cook.id, weight_grams=120.5, price_cents=2500)
    await db.items.create(
        name="Fuel", category_id=cook.id, weight_grams=100.0, price_cents=300, quantity=3
    )
    await db.items.create(name="Spork", category_id=cook.id)
    listed = {c.name: c for c in await db.categories.list()}
    assert list(listed) == sorted(listed)
    assert (listed["Cook"].item_count, listed["Cook"].total_weight_grams) == (3, 420.5)
    assert listed["Cook"].total_cost_cents == 2500 + 900
    assert (listed["Uncategorized"].item_count, listed["Uncategorized"].total_cost_cents) == (0, 0)


async def test_update_is_partial(db: AsyncDatabase) -> None:
    category = await db.categories.create(name="Sleep", icon="bed")
    renamed = await db.categories.update(category.id, name="Sleep system")
    assert (renamed.name, renamed.icon) == ("Sleep system", "bed")
    reiconed = await db.categories.update(category.id, icon="moon")
    assert (reiconed.name, reiconed.icon) == ("Sleep system", "moon")


async def test_delete_moves_contents_to_uncategorized(db: AsyncDatabase) -> None:
    doomed = await db.categories.create(name="Misc")
    item = await db.items.create(name="Knife", category_id=doomed.id)
    await db.categories.delete(doomed.id)
    uncategorized = await db.categories.get_by_name("Uncategorized")
    assert (await db.items.get(item.id)).category_id == uncategorized.id
    with pytest.raises(NotFoundError):
        await db.categories.get(doomed.id)


async def test_uncategorized_cannot_be_deleted_or_renamed(db: AsyncDatabase) -> None:
    uncategorized = await db.categories.get_by_name("Uncategorized")
    with pytest.raises(InvalidStateError):
        await db.categories.delete(uncategorized.id)
    with pytest.raises(InvalidStateError):
        await db.categories.update(uncategorized.id, name="Other")
    assert (await db.categories.update(uncategorized.id, icon="box")).icon == "box"


async def test_missing_category(db: AsyncDatabase) -> None:
    with pytest.raises(NotFoundError):
        await db.categories.get(10**9)
    with pytest.raises(NotFoundError):
        await db.categories.delete(10**9)
    with pytest.raises(NotFoundError):
        await db.categories.update(10**9, name="x")


@pytest.mark.parametrize("name", ["", "   ", "a\x00b"])
async def test_bad_names_are_validation_errors(db: AsyncDatabase, name: str) -> None:
    with pytest.raises(ValidationError):
        await db.categories.create(name=name)


async def _race_delete_and_insert(db: AsyncDatabase, name: str) -> str:
    """Delete a fresh category while adding an item to it; say how it ended."""
    category = await db.categories.create(name=name)
    barrier = asyncio.Barrier(2)

    async def delete() -> None:
        await barrier.wait()
        await db.categories.delete(category.id)

    async def add() -> int:
        await barrier.wait()
        return (await db.items.create(name="Stove", category_id=category.id)).id

    deleted, added = await agather(delete, add)
    assert deleted is None, repr(deleted)
    if isinstance(added, BaseException):
        assert isinstance(added, InvalidReferenceError), repr(added)
        return "refused"
    assert isinstance(added, int)
    assert (await db.items.get(added)).category_name == "Uncategorized"
    return "moved"


async def test_delete_racing_an_insert_never_fails_with_a_raw_error(
    gearbox_database_url: str,
) -> None:
    """Deleting a category while another connection adds an item to it: either the
    item lands in Uncategorized, or the adder gets InvalidReferenceError."""
    async with connect(gearbox_database_url) as db:
        outcomes = {await _race_delete_and_insert(db, f"Racy {n}") for n in range(6)}
        with pytest.raises(NotFoundError):  # every delete went through
            await db.categories.get_by_name("Racy 0")
    assert outcomes <= {"refused", "moved"}
