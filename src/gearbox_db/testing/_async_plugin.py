"""The async fixtures of the gearbox_db pytest plugin (registered only with pytest-asyncio).

:mod:`gearbox_db.testing.plugin` registers this module when the
pytest-asyncio plugin is active, so that a sync-only consumer needs neither
pytest-asyncio nor its configuration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from gearbox_db._async.database import AsyncDatabase
from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.testing._server import TestServer, connect_args

__all__ = ["gearbox_async_connection", "gearbox_async_db"]


@pytest_asyncio.fixture
async def gearbox_async_connection(
    gearbox_server: TestServer, _gearbox_shared_url: str
) -> AsyncIterator[AsyncConnection]:
    """Async twin of ``gearbox_connection`` (a connection of its own per test)."""
    engine = create_async_engine(
        to_sqlalchemy_url(_gearbox_shared_url),
        poolclass=NullPool,
        connect_args=connect_args(gearbox_server),
    )
    try:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            try:
                yield connection
            finally:
                await transaction.rollback()
    finally:
        await engine.dispose()


@pytest_asyncio.fixture
async def gearbox_async_db(gearbox_async_connection: AsyncConnection) -> AsyncDatabase:
    """An ``AsyncDatabase`` on ``gearbox_async_connection`` (rolled back after the test)."""
    return AsyncDatabase.from_connection(gearbox_async_connection)
