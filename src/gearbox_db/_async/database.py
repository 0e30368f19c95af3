"""``AsyncDatabase`` (the entry point) and ``AsyncTransaction`` (the unit of work).

Every repository is reachable from both: on the database each operation
runs in a transaction of its own; on a transaction all operations share one
connection and commit or roll back together. Repositories never commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cached_property
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gearbox_db import _timestamps
from gearbox_db._async.executor import (
    AsyncExecutor,
    AsyncLink,
    AsyncScope,
    aexecute,
    async_fixed_scope,
)
from gearbox_db._async.repositories.api_keys import AsyncApiKeyRepository
from gearbox_db._async.repositories.categories import AsyncCategoryRepository
from gearbox_db._async.repositories.items import AsyncItemRepository
from gearbox_db._async.repositories.oauth import AsyncOAuthRepository
from gearbox_db._async.repositories.sessions import AsyncSessionRepository
from gearbox_db._async.repositories.settings import AsyncSettingRepository
from gearbox_db._async.repositories.setups import AsyncSetupRepository
from gearbox_db._async.repositories.threads import AsyncThreadRepository
from gearbox_db._async.repositories.users import AsyncUserRepository
from gearbox_db._async.routing import AsyncReadExecutor, AsyncRouter
from gearbox_db._async.scopes import AsyncPoolScope, async_engine_scope, async_nested_scope
from gearbox_db._connect import ConnectSettings, connect_settings, replica_policy
from gearbox_db._logs import protect_logs
from gearbox_db._queries._common import Clock
from gearbox_db._queries._compiled import Bound
from gearbox_db._replicas import (
    DEFAULT_MAX_REPLICA_LAG,
    Lsn,
    decode_token,
    encode_token,
    later,
)
from gearbox_db._transaction import TransactionState, translated
from gearbox_db.errors import ConfigurationError, InvalidStateError


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

    def __init__(self, link: AsyncLink, clock: Clock | None = None) -> None:
        self._link = link
        self._clock = clock
        self._state = TransactionState()
        self._executor = AsyncExecutor(async_fixed_scope(link), self._state, inner=True)
        self._savepoints = 0

    async def _command(self, sql: str) -> None:
        with translated(self._state):
            await aexecute(self._link, Bound(sql, {}))

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[Self]:
        """A savepoint: an error inside the block undoes only the block, and the
        transaction stays usable (for expected errors such as a duplicate name)."""
        self._savepoints += 1
        name = f"gearbox_db_{self._savepoints}"
        await self._command(f"SAVEPOINT {name}")
        try:
            yield self
        except BaseException:
            self._state.failure = None
            await self._command(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        await self._command(f"RELEASE SAVEPOINT {name}")


class AsyncDatabase(_AsyncRepositories):
    """The GearBox database: a pool of connections and the repositories.

    Create it with :meth:`connect` (it then owns its pool), :meth:`from_engine`
    (around a SQLAlchemy engine the service owns) or :meth:`from_connection`.
    Creating it does no I/O: the pool opens at the first operation, or at
    ``async with`` / :meth:`open`.
    """

    def __init__(
        self,
        scope: AsyncScope,
        *,
        pool: AsyncPoolScope | None = None,
        engine: AsyncEngine | None = None,
        clock: Clock | None = None,
        router: AsyncRouter | None = None,
        after: Lsn | None = None,
        owner: bool = True,
    ) -> None:
        self._pool = pool
        self._engine = engine
        self._clock = clock
        self._router = router
        self._after = after
        self._owner = owner
        if router is None:
            self._scope = scope
            self._executor = AsyncExecutor(scope)
        else:
            self._scope = router.write
            reads = AsyncReadExecutor(router.write, router=router, after=after)
            self._executor = AsyncExecutor(router.write, reads=reads)

    @classmethod
    def connect(
        cls,
        url: str | URL,
        *,
        pool_size: int = 5,
        max_overflow: int = 10,
        pool_timeout: float = 10.0,
        max_idle: float = 300.0,
        connect_timeout: float = 5.0,
        statement_timeout: float | None = None,
        prepared_statements: bool = True,
        application_name: str = "gearbox_db",
        clock: Clock | None = None,
        replicas: Sequence[str | URL] = (),
        max_replica_lag: float = DEFAULT_MAX_REPLICA_LAG,
    ) -> AsyncDatabase:
        """A database with its own psycopg connection pool, for ``url`` (``postgresql://...``).

        No I/O happens here. The pool keeps ``pool_size`` connections and
        opens up to ``max_overflow`` more under load, closing those after
        ``max_idle`` seconds unused. An operation waits at most
        ``pool_timeout`` for a connection, then raises
        :class:`~gearbox_db.errors.UnavailableError`; a connection idle for
        over a second is checked before use. ``connect_timeout`` bounds each
        connection attempt; ``statement_timeout`` (seconds) cancels longer
        statements (:class:`~gearbox_db.errors.StatementTimeoutError`) and
        bounds the wait for a server that stopped answering to
        ``statement_timeout`` + 1 s. ``prepared_statements=False`` turns
        server-side prepared statements off: needed behind a transaction
        pooler without prepared-statement support (PgBouncer before 1.21, or
        ``max_prepared_statements = 0``). ``clock`` (a function returning an
        aware ``datetime``) judges expiry of sessions, codes and tokens instead
        of the database's ``now()`` (tests inject one rather than sleeping).

        ``replicas``: URLs of streaming standbys of ``url`` (or PgBouncer
        databases in front of them), each with a pool of the same settings
        (except ``pool_timeout``: at most ``connect_timeout`` there, a replica
        that cannot lend a connection in that time being skipped). Reads
        outside a transaction go to them, the rest to ``url``; a replica
        lagging more than ``max_replica_lag`` seconds is skipped; after a
        write through this object, reads see it (docs/scaling.md).
        """

        def settings(target: str | URL, timeout: float) -> ConnectSettings:
            return connect_settings(
                target,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=timeout,
                max_idle=max_idle,
                connect_timeout=connect_timeout,
                statement_timeout=statement_timeout,
                application_name=application_name,
                prepared_statements=prepared_statements,
            )

        policy = replica_policy(replicas, max_replica_lag)
        pool = AsyncPoolScope(settings(url, pool_timeout))
        if not replicas:
            return cls(pool, pool=pool, clock=clock)
        lend = min(pool_timeout, connect_timeout)
        scopes = [AsyncPoolScope(settings(replica, lend)) for replica in replicas]
        router = AsyncRouter(pool, scopes, policy)
        return cls(pool, pool=pool, clock=clock, router=router)

    @classmethod
    def from_engine(cls, engine: AsyncEngine, *, clock: Clock | None = None) -> AsyncDatabase:
        """A database on a SQLAlchemy engine (psycopg 3) the caller owns (and disposes of).

        Each operation runs in a transaction of the engine's, committed by
        SQLAlchemy. Its logs leave out password and token hashes; create it
        with ``hide_parameters=True`` to keep statement parameters out of
        SQLAlchemy's logs too. Its connections load ``timestamptz`` values as
        :mod:`gearbox_db._timestamps` says.
        """
        protect_logs(engine)
        _timestamps.listen_on(engine, existing=True)
        return cls(async_engine_scope(engine), engine=engine, clock=clock)

    @classmethod
    def from_connection(
        cls,
        connection: AsyncConnection | psycopg.AsyncConnection[Any],
        *,
        clock: Clock | None = None,
    ) -> AsyncDatabase:
        """A database on one connection the caller owns: a SQLAlchemy connection
        (psycopg 3) or a psycopg one.

        Each operation, and each :meth:`transaction`, runs in a savepoint of
        the caller's transaction (on a psycopg connection outside a
        transaction: in a transaction of its own, psycopg's
        ``connection.transaction()``); nothing else is committed. Operations
        started at the same time (concurrent requests of an app under test)
        run one after the other, a connection being able to do one thing at
        a time. Meant for tests (roll the caller's transaction back
        afterwards) and for joining a service's own transaction. Timestamps
        read in UTC whatever the session's time zone.
        """
        if isinstance(connection, psycopg.AsyncConnection):
            _timestamps.register_on_driver(connection)
        elif isinstance(connection, AsyncConnection):
            _timestamps.register_on(connection)
        else:
            raise ConfigurationError(
                "from_connection takes a SQLAlchemy or psycopg async connection, "
                f"got {type(connection).__name__}"
            )
        return cls(async_nested_scope(connection), clock=clock)

    @property
    def engine(self) -> AsyncEngine | None:
        """The SQLAlchemy engine of :meth:`from_engine` (``None`` otherwise)."""
        return self._engine

    @property
    def pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None:
        """The psycopg pool of :meth:`connect` (``None`` otherwise)."""
        return None if self._pool is None else self._pool.pool

    def read_position(self) -> str:
        """A token of the position this object's reads must see (read your writes):
        the primary's after its last write through this object, or the one
        :meth:`reading_after` was given if later. Hand it to the next request
        (a cookie, a header); that request passes it to :meth:`reading_after`.
        ASCII and cookie-safe, not secret. Without replicas: a token of no
        position (every read is on the primary anyway)."""
        router = None if self._router is None else self._router.written
        return encode_token(later(router, self._after) or Lsn(0))

    def reading_after(self, token: str | None) -> AsyncDatabase:
        """This database, its reads seeing at least the position of ``token`` (from
        :meth:`read_position`, in any process): they go to a replica that has
        replayed it, else to the primary. ``None``: this database itself. A
        damaged token is a ValidationError. The object returned shares the
        pools (closing it does nothing) and the written position."""
        if token is None:
            return self
        after = later(self._after, decode_token(token))
        return type(self)(
            self._scope,
            pool=self._pool,
            engine=self._engine,
            clock=self._clock,
            router=self._router,
            after=after,
            owner=False,
        )

    def transaction(self) -> AbstractAsyncContextManager[AsyncTransaction]:
        """Several operations in one transaction: committed when the block ends
        normally, rolled back when it raises."""
        return _transaction(self._scope, self._clock)

    async def open(self) -> None:
        """Start the pool now rather than at the first operation (:meth:`connect` only)."""
        if not self._owner:
            return
        if self._router is not None:
            await self._router.open()
        elif self._pool is not None:
            await self._pool.open()

    async def close(self) -> None:
        """Close the pool's connections (only when this object created the pool);
        using the database afterwards raises InvalidStateError."""
        if not self._owner:
            return
        if self._router is not None:
            await self._router.close()
        elif self._pool is not None:
            await self._pool.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


@asynccontextmanager
async def _transaction(scope: AsyncScope, clock: Clock | None) -> AsyncIterator[AsyncTransaction]:
    with translated():
        async with scope(True) as link:
            transaction = AsyncTransaction(link, clock)
            yield transaction
            if transaction._state.failure is not None:
                # The server aborted the transaction; committing would silently
                # roll back, so say so instead (raising here rolls back).
                raise InvalidStateError(
                    "the transaction was rolled back: an operation in it failed "
                    f"({transaction._state.failure})"
                ) from transaction._state.failure
