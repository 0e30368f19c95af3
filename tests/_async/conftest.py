"""Fixtures of the async suite (the sync suite's conftest is generated from it)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db import AsyncDatabase


@pytest.fixture
async def db(gearbox_async_connection: AsyncConnection) -> AsyncDatabase:
    """The database API on a connection whose transaction is rolled back after the test."""
    return AsyncDatabase.from_connection(gearbox_async_connection)
