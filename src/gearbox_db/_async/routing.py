"""Read replicas (issue 14): reads to streaming standbys, the rest to the primary (async source).

An :class:`AsyncRouter` holds the primary's pool and one pool per replica.

* **Writes** (every operation not marked a read, atomic blocks, everything in
  ``transaction()``) go to the primary. Each commit is followed, in the same
  pipelined flight, by ``pg_current_wal_insert_lsn()``: the database object's
  *written* position (read your writes), at no extra round trip. A write
  outside an atomic block is sent as ``BEGIN; statement; COMMIT; position``
  (see :func:`gearbox_db._async.executor._tracked_flight` for why).
* **Reads** (the repositories' ``self._x.read``, :class:`AsyncReadExecutor`)
  must see a position: the later of the object's written one and a token's
  (``reading_after``). A replica known to have replayed it takes the read
  (round robin); else a usable replica runs ``REPLICA_STATUS`` and the read in
  one flight, and its rows count only when it had replayed the position; else
  the primary. A replica that fails a read is skipped for a backoff and the
  read runs once more, on the primary.
* **Health**: the replicas due a probe (never probed, a second since the
  last, or a failed one past its backoff) are probed by the read that notices
  it, one probe at a time per router, with a sample of the primary's position
  (lag is judged against it: :mod:`gearbox_db._replicas`).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

import attrs
import psycopg

from gearbox_db._async.executor import (
    AsyncExecutor,
    AsyncLink,
    acommit,
    aexecute,
    aexecute_all,
)
from gearbox_db._async.scopes import AsyncPoolScope
from gearbox_db._queries import replicas as q
from gearbox_db._queries._compiled import Bound, Statement, bind
from gearbox_db._replicas import Lsn, ReplicaHealth, ReplicaPolicy, later
from gearbox_db.errors import UnavailableError

__all__ = ["AsyncReadExecutor", "AsyncRouter"]

_POSITION: Final[Bound] = bind(q.PRIMARY_POSITION)
_STATUS: Final[Bound] = bind(q.REPLICA_STATUS)
#: What says a replica is down (skipped for a backoff), not merely that it failed a read.
_DOWN: Final = (psycopg.OperationalError, UnavailableError)


class AsyncRouter:
    """The primary's pool, the replicas' pools, their health and the written position."""

    def __init__(
        self, primary: AsyncPoolScope, replicas: Sequence[AsyncPoolScope], policy: ReplicaPolicy
    ) -> None:
        self.primary = primary
        self.replicas = list(replicas)
        self.health = ReplicaHealth(len(self.replicas), policy)
        self._written: Lsn | None = None
        self._lock = threading.Lock()
        self._probing = False

    @property
    def written(self) -> Lsn | None:
        """The primary's position after the last commit through this router."""
        return self._written

    def wrote(self, position: Lsn) -> None:
        """Record the primary's position after a commit."""
        with self._lock:
            self._written = later(self._written, position)
        self.health.primary_at(position)

    async def open(self) -> None:
        """Start every pool."""
        for scope in (self.primary, *self.replicas):
            await scope.open()

    async def close(self) -> None:
        """Close every pool."""
        for scope in (self.primary, *self.replicas):
            await scope.close()

    @asynccontextmanager
    async def write(self, atomic: bool) -> AsyncIterator[AsyncLink]:
        """The scope of writes: the primary, its position read after each commit."""
        async with self.primary(True) as link:
            link.track, link.commit_each = _POSITION, not atomic
            yield link
            if atomic and not link.committed and not link.pending:
                await acommit(link)
        if link.tracked is not None:
            self.wrote(q.to_position(link.tracked))

    async def read(self, statement: Statement, one: bool, after: Lsn | None) -> Any:
        """The rows of a read (``one``: the first row), from a replica that has
        replayed ``after`` and the written position, else from the primary."""
        required = later(self._written, after)
        if not self._probing and self.health.due():
            await self._probe()
        index = self.health.choose(required)
        checked: Lsn | None = None
        if index is None and required is not None:
            index, checked = self.health.choose(), required
        if index is not None:
            served, rows = await self._on_replica(index, statement, one, checked)
            if served:
                return rows
        async with self.primary(False) as link:
            return await _fetch(await aexecute(link, statement), one)

    async def _on_replica(
        self, index: int, statement: Statement, one: bool, required: Lsn | None
    ) -> tuple[bool, Any]:
        """(served, rows) of the read on replica ``index``; with ``required``, the
        replica's replay position is read in the same flight and must reach it."""
        try:
            async with self.replicas[index](False) as link:
                if required is None:
                    return True, await _fetch(await aexecute(link, statement), one)
                status_cursor, cursor = await aexecute_all(link, [_STATUS, statement])
                status = q.to_replica_status(await _fetch(status_cursor, True))
                rows = await _fetch(cursor, one)
        except _DOWN:
            self.health.failed(index)
            return False, None
        except psycopg.Error:  # e.g. a conflict with recovery: the primary answers instead
            return False, None
        self._saw(index, status)
        return status.replayed is not None and status.replayed >= required, rows

    def _saw(self, index: int, status: q.ReplicaStatus) -> None:
        if status.usable and status.replayed is not None:
            self.health.replayed(index, status.replayed)
        else:  # promoted, or a primary given as a replica: never read as one
            self.health.failed(index)

    async def _probe(self) -> None:
        """Probe the replicas due a probe (one probe at a time), after sampling the primary."""
        self._probing = True
        try:
            due = self.health.due()
            if due:
                await self._sample_primary()
            for index in due:
                await self._probe_replica(index)
        finally:
            self._probing = False

    async def _sample_primary(self) -> None:
        try:
            async with self.primary(False) as link:
                row = await _fetch(await aexecute(link, _POSITION), True)
        except (psycopg.Error, UnavailableError):
            return  # the read itself will tell whether the primary answers
        self.health.primary_at(q.to_position(row))

    async def _probe_replica(self, index: int) -> None:
        try:
            async with self.replicas[index](False) as link:
                row = await _fetch(await aexecute(link, _STATUS), True)
        except (psycopg.Error, UnavailableError):
            self.health.failed(index)
            return
        self._saw(index, q.to_replica_status(row))


async def _fetch(cursor: psycopg.AsyncCursor[Any], one: bool) -> Any:
    return await cursor.fetchone() if one else await cursor.fetchall()


@attrs.define
class AsyncReadExecutor(AsyncExecutor):
    """The reads of a database with replicas (see :class:`AsyncRouter`)."""

    _router: AsyncRouter = attrs.field(kw_only=True)
    #: The position a token asked for (``Database.reading_after``).
    _after: Lsn | None = attrs.field(default=None, kw_only=True)

    async def all(self, statement: Statement, *, last: bool = False) -> Any:
        """All rows of ``statement`` (a read), from a replica or the primary
        (``last`` is for atomic blocks, whose reads never come here)."""
        with self._translated():
            return await self._router.read(statement, False, self._after)

    async def first(self, statement: Statement, *, last: bool = False) -> Any:
        """The first row of ``statement`` (a read), or ``None``."""
        with self._translated():
            return await self._router.read(statement, True, self._after)
