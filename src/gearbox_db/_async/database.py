"""``AsyncDatabase`` (the entry point) and ``AsyncTransaction`` (the unit of work).

Every repository is reachable from both: on the database each operation
runs in a transaction of its own; on a transaction all operations share one
connection and commit or roll back together. Repositories never commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cached_property
from types import TracebackType
from typing import Any, Self

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gearbox_db import _timestamps
from gearbox_db._async.executor import AsyncExecutor, AsyncScope, async_fixed_scope
from gearbox_db._async.repositories.api_keys import AsyncApiKeyRepository
from gearbox_db._async.repositories.categories import AsyncCategoryRepository
from gearbox_db._async.repositories.items import AsyncItemRepository
from gearbox_db._async.repositories.oauth import AsyncOAuthRepository
from gearbox_db._async.repositories.sessions import AsyncSessionRepository
from gearbox_db._async.repositories.settings import AsyncSettingRepository
from gearbox_db._async.repositories.setups import AsyncSetupRepository
from gearbox_db._async.repositories.threads import AsyncThreadRepository
from gearbox_db._async.repositories.users import AsyncUserRepository
from gearbox_db._engine import engine_options, session_url
from gearbox_db._logs import protect_logs
from gearbox_db._queries._common import Clock
from gearbox_db._transaction import AsyncConnectionGate, TransactionState, translated
from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.errors import InvalidStateError


class _AsyncRepositories:
    """The repositories, bound to an executor (and the clock that judges expiry)."""

    _executor: AsyncExecutor
    _clock: Clock | None

    @cached_property
    def categories(self) -> AsyncCategoryRepository:
        """Categories of the collection."""
        return AsyncCategoryRepository(self._executor)

    @cached_property
    def items(self) -> AsyncItemRepository:
        """Items of the collection."""
        return AsyncItemRepository(self._executor)

    @cached_property
    def threads(self) -> AsyncThreadRepository:
        """Purchase-research threads and their candidates."""
        return AsyncThreadRepository(self._executor)

    @cached_property
    def setups(self) -> AsyncSetupRepository:
        """Setups (packing lists) and their totals."""
        return AsyncSetupRepository(self._executor)

    @cached_property
    def settings(self) -> AsyncSettingRepository:
        """Key/value preferences."""
        return AsyncSettingRepository(self._executor)

    @cached_property
    def users(self) -> AsyncUserRepository:
        """Accounts and their password hashes."""
        return AsyncUserRepository(self._executor, self._clock)

    @cached_property
    def sessions(self) -> AsyncSessionRepository:
        """Login sessions (tokens stored as SHA-256 hashes only)."""
        return AsyncSessionRepository(self._executor, self._clock)

    @cached_property
    def api_keys(self) -> AsyncApiKeyRepository:
        """API keys (stored as SHA-256 hashes only)."""
        return AsyncApiKeyRepository(self._executor, self._clock)

    @cached_property
    def oauth(self) -> AsyncOAuthRepository:
        """OAuth 2.1 clients, authorization codes and tokens (hashes only)."""
        return AsyncOAuthRepository(self._executor, self._clock)


class AsyncTransaction(_AsyncRepositories):
    """Several operations in one database transaction (see :meth:`AsyncDatabase.transaction`)."""

    def __init__(self, connection: AsyncConnection, clock: Clock | None = None) -> None:
        self._connection = connection
        self._clock = clock
        self._state = TransactionState()
        self._executor = AsyncExecutor(async_fixed_scope(connection), self._state)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[Self]:
        """A savepoint: an error inside the block undoes only the block, and the
        transaction stays usable (for expected errors such as a duplicate name)."""
        with translated(self._state):
            nested = await self._connection.begin_nested()
        try:
            yield self
        except BaseException:
            self._state.failure = None
            with translated(self._state):
                await nested.rollback()
            raise
        with translated(self._state):
            await nested.commit()


class AsyncDatabase(_AsyncRepositories):
    """The GearBox database: a pool of connections and the repositories.

    Create it with :meth:`connect` (it then owns its pool), :meth:`from_engine`
    (around an engine the service owns) or :meth:`from_connection`. No I/O
    happens until the first operation.
    """

    def __init__(
        self,
        begin: AsyncScope,
        engine: AsyncEngine | None,
        *,
        owns_engine: bool,
        clock: Clock | None = None,
    ) -> None:
        self._begin = begin
        self._engine = engine
        self._owns_engine = owns_engine
        self._clock = clock
        self._executor = AsyncExecutor(begin)

    @classmethod
    async def connect(
        cls,
        url: str | URL,
        *,
        pool_size: int = 5,
        max_overflow: int = 10,
        pool_timeout: float = 10.0,
        statement_timeout: float | None = None,
        application_name: str = "gearbox_db",
        clock: Clock | None = None,
        **engine_kwargs: Any,
    ) -> AsyncDatabase:
        """A database with its own connection pool, for ``url`` (``postgresql://...``).

        ``pool_timeout`` is how long an operation waits for a free connection
        before :class:`~gearbox_db.errors.UnavailableError`; connections are
        checked before use (a restarted server does not break the next call);
        sessions run in UTC (settings in the URL's ``options`` are kept);
        ``statement_timeout`` (seconds) cancels statements that run longer;
        ``clock`` (a function returning an aware ``datetime``) judges expiry of
        sessions, codes and tokens instead of the database's ``now()`` (tests
        inject one rather than sleeping). Other keyword arguments go to
        SQLAlchemy's ``create_async_engine``.
        """
        options = engine_options(
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            application_name=application_name,
        )
        target = session_url(to_sqlalchemy_url(url), statement_timeout=statement_timeout)
        engine = create_async_engine(target, **{**options, **engine_kwargs})
        protect_logs(engine)
        _timestamps.listen_on(engine, existing=False)
        return cls(engine.begin, engine, owns_engine=True, clock=clock)

    @classmethod
    def from_engine(cls, engine: AsyncEngine, *, clock: Clock | None = None) -> AsyncDatabase:
        """A database on an engine the caller owns (and disposes of).

        Its logs leave out password and token hashes (found in result rows);
        create it with ``hide_parameters=True`` to keep statement parameters
        out of logs and error messages too. Its connections load
        ``timestamptz`` values as :mod:`gearbox_db._timestamps` says.
        """
        protect_logs(engine)
        _timestamps.listen_on(engine, existing=True)
        return cls(engine.begin, engine, owns_engine=False, clock=clock)

    @classmethod
    def from_connection(
        cls, connection: AsyncConnection, *, clock: Clock | None = None
    ) -> AsyncDatabase:
        """A database on one connection the caller owns, inside the caller's transaction.

        Each operation, and each :meth:`transaction`, runs in a savepoint of
        that transaction; nothing is committed. Operations started at the same
        time (concurrent requests of an app under test) run one after the
        other, a connection being able to do one thing at a time. Meant for
        tests (roll the caller's transaction back afterwards) and for joining
        a service's own transaction. Timestamps read correctly in any session
        time zone (:mod:`gearbox_db._timestamps`; registered on the connection).
        """
        _timestamps.register_on(connection)
        return cls(_nested_scope(connection), None, owns_engine=False, clock=clock)

    @property
    def engine(self) -> AsyncEngine | None:
        """The SQLAlchemy engine underneath (``None`` for :meth:`from_connection`)."""
        return self._engine

    def transaction(self) -> AbstractAsyncContextManager[AsyncTransaction]:
        """Several operations in one transaction: committed when the block ends
        normally, rolled back when it raises."""
        return _transaction(self._begin, self._clock)

    async def close(self) -> None:
        """Close the pool's connections (only when this object created the pool)."""
        if self._owns_engine and self._engine is not None:
            await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _nested_scope(connection: AsyncConnection) -> AsyncScope:
    gate = AsyncConnectionGate()

    @asynccontextmanager
    async def scope() -> AsyncIterator[AsyncConnection]:
        async with gate.hold(), connection.begin_nested():
            yield connection

    return scope


@asynccontextmanager
async def _transaction(begin: AsyncScope, clock: Clock | None) -> AsyncIterator[AsyncTransaction]:
    with translated():
        async with begin() as connection:
            transaction = AsyncTransaction(connection, clock)
            yield transaction
            if transaction._state.failure is not None:
                # The server aborted the transaction; committing would silently
                # roll back, so say so instead (raising here rolls back).
                raise InvalidStateError(
                    "the transaction was rolled back: an operation in it failed "
                    f"({transaction._state.failure})"
                ) from transaction._state.failure
