"""Runs the statements of the repositories, and turns driver errors into ours.

An executor gets its connection from a *scope*: for a ``Database`` each
call opens a pooled connection and a transaction committed at its end; for
a ``Transaction`` every call runs on the transaction's one connection. The
repositories neither know nor care which.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
)
from typing import Any

import attrs
from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db._queries._common import AnyRow
from gearbox_db._transaction import TransactionState, translated

AsyncScope = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


@attrs.define
class AsyncExecutor:
    """Executes statements in a scope, translating errors to gearbox_db's."""

    _scope: AsyncScope
    _state: TransactionState | None = None

    def _translated(self) -> AbstractContextManager[None]:
        return translated(self._state)

    async def all(self, statement: Executable) -> Sequence[AnyRow]:
        """All rows of ``statement``."""
        with self._translated():
            async with self._scope() as connection:
                return (await connection.execute(statement)).all()

    async def tuples(self, statement: Executable) -> Sequence[tuple[Any, ...]]:
        """All rows of ``statement`` as the driver's plain tuples.

        Skips SQLAlchemy's per-row work (a ``Row`` object per row, result
        processors): for the hot listings, whose column types (text, numbers,
        timestamps) psycopg already returns as the Python values we want.
        """
        with self._translated():
            async with self._scope() as connection:
                result = await connection.execute(statement)
                try:
                    return result.cursor.fetchall()
                finally:
                    result.close()

    async def first(self, statement: Executable) -> AnyRow | None:
        """The first row of ``statement``, or ``None``."""
        with self._translated():
            async with self._scope() as connection:
                return (await connection.execute(statement)).first()

    async def scalar(self, statement: Executable) -> Any:
        """The first column of the first row of ``statement`` (``None`` if no row)."""
        with self._translated():
            async with self._scope() as connection:
                return (await connection.execute(statement)).scalar()

    async def rowcount(self, statement: Executable) -> int:
        """Number of rows ``statement`` (an UPDATE or DELETE) touched."""
        with self._translated():
            async with self._scope() as connection:
                return int((await connection.execute(statement)).rowcount)

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[AsyncExecutor]:
        """Several statements in one transaction (the transaction's own, if already in one)."""
        with self._translated():
            async with self._scope() as connection:
                yield AsyncExecutor(async_fixed_scope(connection), self._state)


def async_fixed_scope(connection: AsyncConnection) -> AsyncScope:
    """A scope that always yields ``connection`` (already inside a transaction)."""

    @asynccontextmanager
    async def scope() -> AsyncIterator[AsyncConnection]:
        yield connection

    return scope
