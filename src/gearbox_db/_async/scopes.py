"""Where a ``Database``'s operations get their connection (async source of the sync twin).

* :class:`AsyncPoolScope`: a ``psycopg_pool`` pool the database owns. One
  statement runs in autocommit: one round trip. A transaction's ``BEGIN``
  (and its ``statement_timeout``) wait to go out with its first statement.
* :func:`async_engine_scope`: a SQLAlchemy engine the service owns, its
  transaction committed by SQLAlchemy.
* :func:`async_nested_scope`: one connection the caller owns, every
  operation in a savepoint of the caller's transaction.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from types import TracebackType
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gearbox_db import _timestamps
from gearbox_db._async.executor import AsyncLink, AsyncScope, aexecute
from gearbox_db._connect import BEGIN, COMMIT, ROLLBACK, ConnectSettings
from gearbox_db._deadline import arm, readable
from gearbox_db._transaction import AsyncConnectionGate, adriver_connection
from gearbox_db._warm import WarmStack
from gearbox_db.errors import InvalidStateError, UnavailableError

__all__ = ["AsyncPoolScope", "async_engine_scope", "async_nested_scope"]


async def _configure(connection: psycopg.AsyncConnection[Any]) -> None:
    _timestamps.register_on_driver(connection)


async def _finish(link: AsyncLink, failed: bool) -> None:
    """End the transaction of an atomic block: COMMIT, or ROLLBACK after an error."""
    if link.pending or link.committed:  # BEGIN never went out, or COMMIT already did
        return
    if not failed:
        await aexecute(link, COMMIT)
        return
    # The block's own error is the one to report; a broken connection, the pool discards.
    if not link.connection.broken:
        with suppress(psycopg.Error):
            await aexecute(link, ROLLBACK)


class AsyncPoolScope:
    """Lends connections of a pool this database owns (opened at first use)."""

    def __init__(self, settings: ConnectSettings) -> None:
        self.settings = settings
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            settings.conninfo, configure=_configure, **settings.pool_kwargs()
        )
        self._closed = False
        self._warm: WarmStack[psycopg.AsyncConnection[Any]] = WarmStack(settings.min_size)
        setting = settings.timeout_setting
        self._single = [] if setting is None else [setting]
        self._atomic = [BEGIN] if setting is None else [BEGIN, setting]

    async def open(self) -> None:
        """Start the pool (connections are made in the background)."""
        if self._closed:
            raise InvalidStateError("the database was closed: connect again")
        await self.pool.open()

    async def close(self) -> None:
        """Close the pool and every connection; later operations raise InvalidStateError."""
        self._closed = True
        for connection in self._warm.drain():
            await self.pool.putconn(connection)
        await self.pool.close()

    async def _alive(self, connection: psycopg.AsyncConnection[Any], seconds: float) -> bool:
        """Whether an idle connection still works: free when nothing came in on
        its socket while idle; a round trip otherwise (the server closed it,
        or sent a notice that the probe then reads)."""
        if connection.closed:
            return False
        if not readable(connection.pgconn.socket):
            return True
        deadline = arm(connection.pgconn.socket, seconds)
        try:
            await connection.execute("")
        except psycopg.Error:
            return False
        finally:
            deadline.disarm()
        return True

    async def _acquire(self) -> psycopg.AsyncConnection[Any]:
        if self.pool.closed:
            await self.open()
        give_up = time.monotonic() + self.settings.pool_timeout
        while True:
            connection = self._warm.take()
            if connection is None:
                try:
                    connection = await self.pool.getconn(max(0.0, give_up - time.monotonic()))
                finally:
                    self._warm.stop_waiting()
            probe = min(self.settings.connect_timeout, max(0.05, give_up - time.monotonic()))
            if await self._alive(connection, probe):
                return connection
            await self.pool.putconn(connection)  # broken: the pool replaces it
            if time.monotonic() >= give_up:
                raise UnavailableError(
                    f"no working database connection within pool_timeout "
                    f"({self.settings.pool_timeout:g} s)"
                )

    def __call__(self, atomic: bool) -> _AsyncLending:
        """Lend a connection for one operation (``atomic``: in a transaction)."""
        return _AsyncLending(self, atomic)

    async def _lend(self, atomic: bool) -> AsyncLink:
        connection = await self._acquire()
        pending = list(self._atomic if atomic else self._single)
        return AsyncLink(connection, pending, self.settings.deadline, may_commit=atomic)

    async def _give_back(self, link: AsyncLink, atomic: bool, failed: bool) -> None:
        try:
            if atomic:
                await _finish(link, failed)
        finally:
            await self._release(link.connection)

    async def _release(self, connection: psycopg.AsyncConnection[Any]) -> None:
        """Keep a healthy idle connection for the next operation, else return it
        to the pool (which resets, replaces or expires it)."""
        if (
            self._closed
            or connection.broken
            or connection.info.transaction_status != TransactionStatus.IDLE
            or getattr(connection, "_expire_at", math.inf) <= time.monotonic()  # max_lifetime
            or not self._warm.keep(connection)
        ):
            await self.pool.putconn(connection)


class _AsyncLending:
    """One operation's loan of a pooled connection (a class: cheaper than a generator)."""

    __slots__ = ("_atomic", "_link", "_scope")

    def __init__(self, scope: AsyncPoolScope, atomic: bool) -> None:
        self._scope = scope
        self._atomic = atomic

    async def __aenter__(self) -> AsyncLink:
        self._link = await self._scope._lend(self._atomic)
        return self._link

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._scope._give_back(self._link, self._atomic, exc_type is not None)


def async_engine_scope(engine: AsyncEngine) -> AsyncScope:
    """A scope on a SQLAlchemy engine: each operation in a transaction SQLAlchemy commits."""

    @asynccontextmanager
    async def scope(atomic: bool) -> AsyncIterator[AsyncLink]:
        async with engine.begin() as connection:
            yield AsyncLink(await adriver_connection(connection))

    return scope


def async_nested_scope(connection: AsyncConnection | psycopg.AsyncConnection[Any]) -> AsyncScope:
    """A scope on one connection: each operation in a savepoint, one at a time."""
    gate = AsyncConnectionGate()

    @asynccontextmanager
    async def scope(atomic: bool) -> AsyncIterator[AsyncLink]:
        async with gate.hold():
            if isinstance(connection, psycopg.AsyncConnection):
                async with connection.transaction():
                    yield AsyncLink(connection)
            else:
                async with connection.begin_nested():
                    yield AsyncLink(await adriver_connection(connection))

    return scope
