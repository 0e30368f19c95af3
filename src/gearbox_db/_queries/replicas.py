"""Statements and mappers of the read-replica bookkeeping (issue 14): WAL positions.

**The primary's position after a write** is ``pg_current_wal_insert_lsn()``,
read on the connection that committed, after the commit:

- ``pg_current_wal_lsn()`` (written so far) and ``pg_current_wal_flush_lsn()``
  (flushed) reach the commit record only when the commit waited for its flush
  (``synchronous_commit`` on, the default). With ``synchronous_commit = off``
  (a setting a service may choose, and the test server's) the commit returns
  while its record may still be in the WAL buffers: a replica that replayed
  up to the *write* position may not have the commit yet.
- The insert position is past every record inserted so far, the commit
  included, whatever ``synchronous_commit`` says; a replica reaches it once
  the record is written, sent and replayed (the WAL writer writes
  asynchronous commits within ``wal_writer_delay``). Its one cost: when the
  last record ends exactly at a WAL page boundary the insert position points
  past the next page's header, which a replica reaches only with the next
  record (a checkpoint or the standby snapshot the primary logs every 15 s
  at most): reads go to the primary meanwhile, never to a stale replica.
  GitLab's load balancer made the same choice.

**A replica's position** is ``pg_last_wal_replay_lsn()`` (applied, hence
visible to its queries), not the received position. A server not in recovery
(``pg_is_in_recovery()`` false: promoted, or a primary's URL given as a
replica) is never used as a replica.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
from sqlalchemy import Select, Text, func, select

from gearbox_db._queries._common import AnyRow
from gearbox_db._replicas import Lsn

__all__ = [
    "PRIMARY_POSITION",
    "REPLICA_STATUS",
    "ReplicaStatus",
    "to_position",
    "to_replica_status",
]

#: The primary's WAL insert position, as text (see the module's docstring).
PRIMARY_POSITION: Final[Select[Any]] = select(
    func.pg_current_wal_insert_lsn().cast(Text).label("position")
)
#: Whether the server is a standby, and the position it has replayed (NULL on a primary).
REPLICA_STATUS: Final[Select[Any]] = select(
    func.pg_is_in_recovery().label("in_recovery"),
    func.pg_last_wal_replay_lsn().cast(Text).label("replayed"),
)


@attrs.frozen
class ReplicaStatus:
    """What a probe of a replica found."""

    in_recovery: bool
    replayed: Lsn | None

    @property
    def usable(self) -> bool:
        """Whether the server may serve reads as a replica (a standby that replayed WAL)."""
        return self.in_recovery and self.replayed is not None


def to_position(row: AnyRow) -> Lsn:
    """The row of :data:`PRIMARY_POSITION` as a position."""
    return Lsn.parse(row[0])


def to_replica_status(row: AnyRow) -> ReplicaStatus:
    """The row of :data:`REPLICA_STATUS`."""
    return ReplicaStatus(
        in_recovery=bool(row[0]), replayed=None if row[1] is None else Lsn.parse(row[1])
    )
