"""Test support for gearbox_db and for the services built on it.

The fixtures live in :mod:`gearbox_db.testing.plugin`, which pytest loads
by itself once gearbox_db is installed (``pytest11`` entry point). This
module holds the helpers tests import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db.testing._server import TestServer

__all__ = ["TestServer", "aisolated", "isolated"]


@contextmanager
def isolated(connection: Connection) -> Iterator[Connection]:
    """Run a block inside a savepoint that is always rolled back.

    Function-scoped fixtures are not reset between hypothesis examples, so
    each example of a test that uses ``gearbox_connection`` wraps its body
    (and hypothesis, which warns about exactly that, is told it is handled)::

        @settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(st.text())
        def test_names(gearbox_connection, name):
            with isolated(gearbox_connection) as conn:
                ...

    Savepoints the block opens and leaves open are rolled back with it.
    """
    savepoint = connection.begin_nested()
    try:
        yield connection
    finally:
        # Inner savepoints left open first: rolling back past them warns.
        while (inner := connection.get_nested_transaction()) not in (None, savepoint):
            inner.rollback()
        if savepoint.is_active:
            savepoint.rollback()


@asynccontextmanager
async def aisolated(connection: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """Async twin of :func:`isolated`, for ``gearbox_async_connection``.

    Each hypothesis example of an async test wraps its body::

        async with aisolated(gearbox_async_connection) as conn:
            ...
    """
    savepoint = await connection.begin_nested()
    try:
        yield connection
    finally:
        while (inner := connection.get_nested_transaction()) not in (None, savepoint):
            await inner.rollback()
        if savepoint.is_active:
            await savepoint.rollback()
