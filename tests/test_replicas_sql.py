"""The read-replica statements and positions against PostgreSQL and a real standby (issue 14).

- :class:`Lsn` prints, parses and orders exactly as ``pg_lsn`` does;
- the primary's position read in a commit's flight (``PRIMARY_POSITION``, by
  a ``Database`` with a replica) is one a standby that replayed it shows the
  commit at, with replay running or paused,
  and :class:`ReplicaHealth` fed with ``REPLICA_STATUS`` sends a read of that
  position to the standby only once it has;
- ``REPLICA_STATUS`` tells a standby from a primary.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, Select, text

from gearbox_db import Database
from gearbox_db._queries import replicas as q
from gearbox_db._queries._common import AnyRow
from gearbox_db._replicas import Lsn, ReplicaHealth, ReplicaPolicy
from gearbox_db.errors import NotFoundError, UnavailableError
from gearbox_db.testing import isolated
from gearbox_db.testing._replica import Standby
from tests.strategies import per_example

positions = st.integers(0, 2**64 - 1).map(Lsn)


@per_example
@given(positions, positions)
def test_positions_print_and_order_as_pg_lsn(
    gearbox_connection: Connection, a: Lsn, b: Lsn
) -> None:
    with isolated(gearbox_connection) as conn:
        row = conn.execute(
            text(
                "SELECT CAST(:a AS pg_lsn)::text, CAST(:a AS pg_lsn) < CAST(:b AS pg_lsn), "
                "CAST(:a AS pg_lsn) = CAST(:b AS pg_lsn)"
            ),
            {"a": str(a), "b": str(b)},
        ).one()
    assert tuple(row) == (str(a), a < b, a == b)


@attrs.frozen
class Pair:
    """The test's database through the execution layer: on the primary, with the
    standby as its replica (its writes track the primary's position), on the standby."""

    primary: Database
    routed: Database
    standby: Database


@pytest.fixture
def pair(gearbox_database_url: str, gearbox_standby: Standby) -> Iterator[Pair]:
    gearbox_standby.wait_for_replay()  # the new database has reached the standby
    standby_url = gearbox_standby.url_of(gearbox_database_url)
    with (
        Database.connect(gearbox_database_url, pool_size=1) as primary,
        Database.connect(gearbox_database_url, pool_size=1, replicas=[standby_url]) as routed,
        Database.connect(standby_url, pool_size=1, connect_timeout=1, pool_timeout=1) as standby,
    ):
        yield Pair(primary, routed, standby)


def _write(pair: Pair) -> tuple[str, Lsn]:
    """Commit a category; its name and the primary's position read in the commit's flight."""
    name = f"tents-{uuid.uuid4().hex[:8]}"
    pair.routed.categories.create(name=name)
    assert pair.routed._router is not None
    position = pair.routed._router.written
    assert position is not None
    return name, position


def _row(db: Database, statement: Select[Any]) -> AnyRow:
    row = db._executor.first(statement)
    assert row is not None
    return row


def _status(db: Database) -> q.ReplicaStatus:
    return q.to_replica_status(_row(db, q.REPLICA_STATUS))


def _visible(standby: Database, name: str) -> bool:
    try:
        standby.categories.get_by_name(name)
    except NotFoundError:
        return False
    return True


def _probe_until_chosen(health: ReplicaHealth, standby: Database, required: Lsn) -> None:
    deadline = time.monotonic() + 30
    while True:
        status = _status(standby)
        assert status.usable
        assert status.replayed is not None
        health.replayed(0, status.replayed)
        if health.choose(required) == 0:
            return
        assert time.monotonic() < deadline, "the standby never replayed the write"
        time.sleep(0.005)  # polling the standby's replay position until a deadline


def test_status_tells_a_standby_from_a_primary(pair: Pair) -> None:
    primary, standby = pair.primary, pair.standby
    assert _status(primary) == q.ReplicaStatus(in_recovery=False, replayed=None)
    assert not _status(primary).usable
    assert _status(standby).in_recovery
    assert _status(standby).usable


def test_a_standby_chosen_for_a_position_shows_the_write(pair: Pair) -> None:
    health = ReplicaHealth(1)
    name, position = _write(pair)
    _probe_until_chosen(health, pair.standby, position)
    assert _visible(pair.standby, name)


def test_paused_replay_sends_the_read_to_the_primary_until_replayed(
    pair: Pair, gearbox_standby: Standby
) -> None:
    standby = pair.standby
    health = ReplicaHealth(1)
    gearbox_standby.pause_replay()
    name, position = _write(pair)
    status = _status(standby)
    assert status.replayed is not None
    assert status.replayed < position
    health.replayed(0, status.replayed)
    assert health.choose(position) is None  # read your write: the primary
    assert health.choose() == 0  # a read with no position may still use the standby
    assert not _visible(standby, name)
    gearbox_standby.resume_replay()
    _probe_until_chosen(health, standby, position)
    assert _visible(standby, name)


class Clock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _probe(health: ReplicaHealth, primary: Database, standby: Database) -> None:
    """One health probe as the router makes it: the primary first, then the replica."""
    health.primary_at(q.to_position(_row(primary, q.PRIMARY_POSITION)))
    status = _status(standby)
    if status.usable and status.replayed is not None:
        health.replayed(0, status.replayed)
    else:
        health.failed(0)


def test_a_paused_standby_is_skipped_once_it_lags_too_long(
    pair: Pair, gearbox_standby: Standby
) -> None:
    primary, standby = pair.primary, pair.standby
    clock = Clock()
    health = ReplicaHealth(1, ReplicaPolicy(max_replica_lag=10), clock=clock)
    gearbox_standby.pause_replay()
    _probe(health, primary, standby)  # nothing written since the pause: no lag
    assert health.choose() == 0
    _write(pair)
    _probe(health, primary, standby)
    clock.now += 9
    _probe(health, primary, standby)
    assert health.choose() == 0  # 9 s behind: still within the bound
    clock.now += 2
    _probe(health, primary, standby)
    assert health.choose() is None  # 11 s behind: the primary
    gearbox_standby.resume_replay()
    gearbox_standby.wait_for_replay()
    _probe(health, primary, standby)
    assert health.choose() == 0


def test_a_stopped_standby_is_skipped_then_retried_after_the_backoff(
    pair: Pair, gearbox_standby: Standby
) -> None:
    primary, standby = pair.primary, pair.standby
    clock = Clock()
    health = ReplicaHealth(1, ReplicaPolicy(retry_after=1), clock=clock)
    _probe(health, primary, standby)
    assert health.choose() == 0
    gearbox_standby.stop()
    with pytest.raises(UnavailableError):
        _status(standby)
    health.failed(0)
    assert health.choose() is None
    assert health.due() == []  # not before the backoff
    gearbox_standby.start()
    clock.now += 1
    assert health.due() == [0]
    _probe_until_answered(health, primary, standby)  # the pool reconnects in the background
    assert health.choose() == 0


def _probe_until_answered(health: ReplicaHealth, primary: Database, standby: Database) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            _probe(health, primary, standby)
            return
        except UnavailableError:
            assert time.monotonic() < deadline, "the standby never answered again"
            time.sleep(0.05)  # polling the pool's reconnection, up to a deadline
