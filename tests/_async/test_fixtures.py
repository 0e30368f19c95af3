"""The plugin's database fixtures and ``testing.aisolated`` (issue 10, point 10)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db import AsyncDatabase
from gearbox_db.testing import aisolated


async def test_the_db_fixture_gives_the_repositories(gearbox_async_db: AsyncDatabase) -> None:
    tent = await gearbox_async_db.categories.create(name="Tent")
    item = await gearbox_async_db.items.create(name="Duplex", category_id=tent.id)
    assert item.category_name == "Tent"


async def test_the_db_fixture_is_rolled_back(gearbox_async_db: AsyncDatabase) -> None:
    assert [c.name for c in await gearbox_async_db.categories.list()] == ["Uncategorized"]


async def test_uncategorized_is_found_whatever_its_id(gearbox_async_db: AsyncDatabase) -> None:
    uncategorized = await gearbox_async_db.categories.uncategorized()
    assert uncategorized.name == "Uncategorized"
    gear = await gearbox_async_db.categories.create(name="Gear")
    item = await gearbox_async_db.items.create(name="Spork", category_id=gear.id)
    await gearbox_async_db.categories.delete(gear.id)
    assert (await gearbox_async_db.items.get(item.id)).category_id == uncategorized.id


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=15)
@given(name=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1))
async def test_isolated_examples_see_nothing_of_each_other(
    gearbox_async_connection: AsyncConnection, name: str
) -> None:
    async with aisolated(gearbox_async_connection) as conn:
        db = AsyncDatabase.from_connection(conn)
        assert len(await db.categories.list()) == 1  # only Uncategorized: earlier examples gone
        if name.strip() and name != "Uncategorized":
            await db.categories.create(name=name)
            assert len(await db.categories.list()) == 2
