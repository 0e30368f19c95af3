"""Runs the statements of the repositories on psycopg, and turns driver errors into ours.

An executor gets its connection from a *scope* (:mod:`gearbox_db._async.scopes`):
for a ``Database`` each call takes a pooled connection, one statement running
in autocommit; for a ``Transaction`` every call runs on the transaction's one
connection. The repositories neither know nor care which.

A scope may hand over statements still to send (``BEGIN``, a transaction's
``statement_timeout``): they go in one pipelined flight with the next
statement, so they cost no round trip of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from typing import Any

import attrs
import psycopg

from gearbox_db._deadline import arm
from gearbox_db._queries._common import AnyRow
from gearbox_db._queries._compiled import Bound, Statement, bind
from gearbox_db._transaction import DRIVER_ERRORS, TransactionState, cause, failure, translated
from gearbox_db.errors import UnavailableError

__all__ = [
    "AsyncExecutor",
    "AsyncLink",
    "AsyncScope",
    "Outcome",
    "acommit",
    "aexecute",
    "aexecute_all",
    "async_fixed_scope",
]


@attrs.define(slots=True)
class AsyncLink:
    """A connection lent by a scope, and the statements to send before the next one."""

    connection: psycopg.AsyncConnection[Any]
    pending: list[Bound] = attrs.Factory(list)
    #: Client-side deadline of each statement (seconds), ``None`` for none.
    deadline: float | None = None
    #: The scope commits the link's transaction at its end; a batch may send the
    #: COMMIT in its own flight instead (``committed`` then tells the scope).
    may_commit: bool = False
    committed: bool = False
    #: Read replicas: a statement sent right after each COMMIT of this link, in the
    #: same flight (the primary's WAL position); its first row lands in ``tracked``.
    track: Bound | None = None
    #: With ``track``: each flight is a transaction of its own (a write outside an
    #: atomic block), sent as BEGIN (already pending), statements, COMMIT.
    commit_each: bool = False
    tracked: AnyRow | None = None


@attrs.frozen(slots=True)
class Outcome:
    """What one statement of a batch gave: its rows (none for a plain write) and rowcount."""

    rows: Sequence[AnyRow]
    rowcount: int


#: Lends a connection for one operation; ``True`` asks for a transaction.
AsyncScope = Callable[[bool], AbstractAsyncContextManager[AsyncLink]]

_COMMIT = Bound("COMMIT", {})


def _bound(statement: Statement) -> Bound:
    return statement if type(statement) is Bound else bind(statement)  # type: ignore[arg-type]


async def _flight(
    link: AsyncLink, bounds: Sequence[Bound], *, commit: bool = False
) -> list[psycopg.AsyncCursor[Any]]:
    """Send what is pending, then ``bounds`` (then COMMIT, then what the link
    tracks after each commit): one round trip.

    Nothing is prepared inside a pipeline: when a statement of the flight fails,
    the server skips the rest of it, a ``Parse`` of a new prepared statement
    included, while psycopg would count that statement as prepared (its next
    run then fails with "prepared statement ... does not exist"). With read
    replicas the COMMIT is explicit even for one write: in a pipeline the
    statements up to the next sync share one implicit transaction, so a
    position read in the same flight would precede the write's commit record.
    """
    track = link.track
    commit = commit or (track is not None and link.commit_each)
    connection = link.connection
    if not link.pending and len(bounds) == 1 and not commit:
        return [await connection.execute(bounds[0].sql, bounds[0].params)]
    tail = None
    async with connection.pipeline():
        for before in link.pending:
            await connection.execute(before.sql, before.params, prepare=False)
        link.pending.clear()
        cursors = [await connection.execute(b.sql, b.params, prepare=False) for b in bounds]
        if commit:
            await connection.execute(_COMMIT.sql, prepare=False)
            if track is not None:
                tail = await connection.execute(track.sql, track.params, prepare=False)
    if commit:
        link.committed = True
    if tail is not None:
        link.tracked = await tail.fetchone()
    return cursors


async def _guarded(
    link: AsyncLink, bounds: Sequence[Bound], *, commit: bool = False
) -> list[psycopg.AsyncCursor[Any]]:
    """:func:`_flight` within the link's client-side deadline."""
    seconds = link.deadline
    if seconds is None:
        return await _flight(link, bounds, commit=commit)
    deadline = arm(link.connection.pgconn.socket, seconds)
    try:
        return await _flight(link, bounds, commit=commit)
    except psycopg.OperationalError as exc:
        if deadline.expired:
            raise UnavailableError(
                f"the database server did not answer within {seconds:g} s "
                "(statement_timeout plus a margin); the connection was closed"
            ) from exc
        raise
    finally:
        deadline.disarm()


async def aexecute(
    link: AsyncLink, statement: Statement, *, last: bool = False
) -> psycopg.AsyncCursor[Any]:
    """Run ``statement`` on the link's connection (after what is pending), within its
    deadline; ``last`` in a transaction the scope commits: the COMMIT goes with it."""
    bound = statement if type(statement) is Bound else bind(statement)  # type: ignore[arg-type]
    commit = last and link.may_commit
    if link.deadline is None and not link.pending and not commit and link.track is None:
        return await link.connection.execute(bound.sql, bound.params)
    return (await _guarded(link, [bound], commit=commit))[0]


async def aexecute_all(
    link: AsyncLink, statements: Sequence[Statement]
) -> list[psycopg.AsyncCursor[Any]]:
    """Run ``statements`` in one pipelined flight (no transaction of their own)."""
    return await _guarded(link, [_bound(statement) for statement in statements])


async def acommit(link: AsyncLink) -> None:
    """COMMIT the link's transaction in a flight of its own (with what it tracks)."""
    await _guarded(link, [], commit=True)


@attrs.define
class AsyncExecutor:
    """Executes statements in a scope, translating errors to gearbox_db's."""

    _scope: AsyncScope
    _state: TransactionState | None = None
    #: Runs inside a block (atomic or a transaction): a batch ends it only if ``last``.
    _inner: bool = False
    #: Where the repositories' reads go (read replicas); ``None``: this executor.
    _reads: AsyncExecutor | None = attrs.field(default=None, kw_only=True)

    @property
    def read(self) -> AsyncExecutor:
        """The executor of reads: statements that write nothing at all (a replica may run them)."""
        reads = self._reads
        return self if reads is None else reads

    def _translated(self) -> AbstractContextManager[None]:
        return translated(self._state)

    async def all(self, statement: Statement, *, last: bool = False) -> Sequence[AnyRow]:
        """All rows of ``statement``, as tuples. ``last``: the last statement of an
        :meth:`atomic` block (its COMMIT then goes in the same flight)."""
        if self._state is not None:
            self._state.check_usable()
        try:
            async with self._scope(False) as link:
                return await (await aexecute(link, statement, last=last)).fetchall()
        except DRIVER_ERRORS as exc:
            raise failure(exc, self._state) from cause(exc)

    async def first(self, statement: Statement, *, last: bool = False) -> AnyRow | None:
        """The first row of ``statement``, or ``None`` (``last``: as for :meth:`all`)."""
        if self._state is not None:
            self._state.check_usable()
        try:
            async with self._scope(False) as link:
                return await (await aexecute(link, statement, last=last)).fetchone()
        except DRIVER_ERRORS as exc:
            raise failure(exc, self._state) from cause(exc)

    async def scalar(self, statement: Statement, *, last: bool = False) -> Any:
        """The first column of the first row of ``statement`` (``None`` if no row)."""
        row = await self.first(statement, last=last)
        return None if row is None else row[0]

    async def rowcount(self, statement: Statement, *, last: bool = False) -> int:
        """Number of rows ``statement`` (an UPDATE or DELETE) touched."""
        with self._translated():
            async with self._scope(False) as link:
                return (await aexecute(link, statement, last=last)).rowcount

    async def batch(self, *statements: Statement, last: bool = False) -> list[Outcome]:
        """Statements none of which needs another's result, in one transaction and
        one pipelined flight: with its BEGIN and COMMIT when the batch is the whole
        operation; in an :meth:`atomic` block, with the COMMIT when ``last``."""
        bounds = [_bound(statement) for statement in statements]
        with self._translated():
            async with self._scope(True) as link:
                commit = link.may_commit and (last or not self._inner)
                cursors = await _guarded(link, bounds, commit=commit)
                return [
                    Outcome(await c.fetchall() if c.description else (), c.rowcount)
                    for c in cursors
                ]

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[AsyncExecutor]:
        """Several statements in one transaction (the transaction's own, if already in one)."""
        with self._translated():
            async with self._scope(True) as link:
                yield AsyncExecutor(async_fixed_scope(link, owned=True), self._state, inner=True)


def async_fixed_scope(link: AsyncLink, *, owned: bool = False) -> AsyncScope:
    """A scope that always lends ``link`` (already inside a transaction). Unless
    the transaction is ``owned`` by the operation (an :meth:`AsyncExecutor.atomic`
    block), no statement may send its COMMIT: its owner commits it."""
    if not owned:
        link.may_commit = False

    @asynccontextmanager
    async def scope(atomic: bool) -> AsyncIterator[AsyncLink]:
        yield link

    return scope
