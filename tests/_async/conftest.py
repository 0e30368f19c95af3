"""Fixtures of the repository suites (``tests/_async`` is the source; ``tests/_sync``
is generated from it)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db import AsyncDatabase
from gearbox_db.records import Category

from ._accounts import FakeClock


@pytest.fixture
async def db(gearbox_async_connection: AsyncConnection) -> AsyncDatabase:
    """The database API on a connection whose transaction is rolled back after the test."""
    return AsyncDatabase.from_connection(gearbox_async_connection)


@pytest.fixture
def clock() -> FakeClock:
    """A clock the test moves by hand (expiry without sleeping)."""
    return FakeClock()


@pytest.fixture
def timed(gearbox_async_connection: AsyncConnection, clock: FakeClock) -> AsyncDatabase:
    """The database API judging expiry by ``clock``."""
    return AsyncDatabase.from_connection(gearbox_async_connection, clock=clock)


@pytest.fixture
async def cook(db: AsyncDatabase) -> Category:
    """A category "Cook" (icon "flame")."""
    return await db.categories.create(name="Cook", icon="flame")


@pytest.fixture
async def sleep(db: AsyncDatabase) -> Category:
    """A category "Sleep" (icon "moon")."""
    return await db.categories.create(name="Sleep", icon="moon")
