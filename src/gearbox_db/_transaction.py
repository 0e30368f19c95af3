"""Transaction bookkeeping shared by the async and the sync implementation (no I/O)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Final

import attrs
import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db.errors import GearboxDBError, InvalidStateError, translate

__all__ = [
    "DRIVER_ERRORS",
    "AsyncConnectionGate",
    "ConnectionGate",
    "TransactionState",
    "adriver_connection",
    "cause",
    "driver_connection",
    "failure",
    "translated",
]


@attrs.define
class TransactionState:
    """Whether a statement of a transaction failed (the server then aborted it)."""

    failure: GearboxDBError | None = None

    def check_usable(self) -> None:
        """Refuse to run more statements in an aborted transaction."""
        if self.failure is not None:
            raise InvalidStateError(
                f"the transaction was aborted by an earlier error ({self.failure}); "
                "it can only be rolled back (use a savepoint to recover from expected errors)"
            ) from self.failure


#: The errors :func:`translated` turns into gearbox_db's.
DRIVER_ERRORS: Final = (SQLAlchemyError, psycopg.Error)


def failure(exc: BaseException, state: TransactionState | None) -> GearboxDBError:
    """The gearbox_db error for a driver error, recorded in ``state`` (raise it
    ``from cause(exc)``)."""
    error = translate(exc)
    if state is not None:
        state.failure = error
    return error


def cause(exc: BaseException) -> BaseException:
    """What a gearbox_db error chains: the driver's own error (SQLAlchemy's wrapper
    would also carry the statement's parameters, which may hold secrets)."""
    return getattr(exc, "orig", None) or exc


@contextmanager
def translated(state: TransactionState | None = None) -> Iterator[None]:
    """Raise gearbox_db errors for driver errors in the block; record them in ``state``."""
    if state is not None:
        state.check_usable()
    try:
        yield
    except DRIVER_ERRORS as exc:
        raise failure(exc, state) from cause(exc)


class AsyncConnectionGate:
    """One operation at a time on a shared connection (``AsyncDatabase.from_connection``).

    Tasks that share the connection queue here, each operation (or each
    ``transaction()`` block) a savepoint of its own taken only when the
    previous one ended: savepoints never interleave. Reentrant for the task
    that holds it (a repository call inside its own ``transaction()`` block).
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[object] | None = None

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold the connection for the block."""
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            yield
            return
        async with self._lock:
            self._owner = task
            try:
                yield
            finally:
                self._owner = None


class ConnectionGate:
    """One operation at a time on a shared connection (``Database.from_connection``).

    Threads that share the connection queue here; reentrant for the thread
    that holds it.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the connection for the block."""
        with self._lock:
            yield


async def adriver_connection(connection: AsyncConnection) -> psycopg.AsyncConnection[Any]:
    """The psycopg connection under a SQLAlchemy async connection (begun by SQLAlchemy)."""
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if not isinstance(driver, psycopg.AsyncConnection):
        raise InvalidStateError("gearbox_db needs a SQLAlchemy connection using psycopg 3")
    return driver


def driver_connection(connection: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under a SQLAlchemy connection (begun by SQLAlchemy)."""
    driver = connection.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise InvalidStateError("gearbox_db needs a SQLAlchemy connection using psycopg 3")
    return driver
