"""The read-replica statements and positions against PostgreSQL and a real standby (issue 14).

- :class:`Lsn` prints, parses and orders exactly as ``pg_lsn`` does;
- the primary's position read after a commit (``PRIMARY_POSITION``) is one a
  standby that replayed it shows the commit at, with replay running or paused,
  and :class:`ReplicaHealth` fed with ``REPLICA_STATUS`` sends a read of that
  position to the standby only once it has;
- ``REPLICA_STATUS`` tells a standby from a primary.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from gearbox_db._queries import replicas as q
from gearbox_db._replicas import Lsn, ReplicaHealth, ReplicaPolicy
from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.testing import isolated
from gearbox_db.testing._replica import Standby
from tests.replica import _gearbox_standby_session, gearbox_standby
from tests.strategies import per_example

__all__ = ["_gearbox_standby_session", "gearbox_standby"]  # the fixtures, used by name

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


@pytest.fixture
def engines(gearbox_database_url: str, gearbox_standby: Standby) -> Iterator[tuple[Engine, Engine]]:
    """Engines on the test's database: (the primary, the standby)."""
    gearbox_standby.wait_for_replay()  # the new database has reached the standby
    primary = create_engine(to_sqlalchemy_url(gearbox_database_url))
    standby = create_engine(to_sqlalchemy_url(gearbox_standby.url_of(gearbox_database_url)))
    yield primary, standby
    primary.dispose()
    standby.dispose()


def _write(primary: Engine) -> tuple[str, Lsn]:
    """Commit a category; its name and the primary's position read after the commit."""
    name = f"tents-{uuid.uuid4().hex[:8]}"
    with primary.connect() as conn:
        conn.execute(text("INSERT INTO categories (name) VALUES (:name)"), {"name": name})
        conn.commit()
        position = q.to_position(conn.execute(q.PRIMARY_POSITION).one())
    return name, position


def _status(standby: Engine) -> q.ReplicaStatus:
    with standby.connect() as conn:
        return q.to_replica_status(conn.execute(q.REPLICA_STATUS).one())


def _visible(standby: Engine, name: str) -> bool:
    with standby.connect() as conn:
        query = text("SELECT count(*) FROM categories WHERE name = :name")
        return bool(conn.execute(query, {"name": name}).scalar_one() == 1)


def _probe_until_chosen(health: ReplicaHealth, standby: Engine, required: Lsn) -> None:
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


def test_status_tells_a_standby_from_a_primary(engines: tuple[Engine, Engine]) -> None:
    primary, standby = engines
    assert _status(primary) == q.ReplicaStatus(in_recovery=False, replayed=None)
    assert not _status(primary).usable
    assert _status(standby).in_recovery
    assert _status(standby).usable


def test_a_standby_chosen_for_a_position_shows_the_write(engines: tuple[Engine, Engine]) -> None:
    primary, standby = engines
    health = ReplicaHealth(1)
    name, position = _write(primary)
    _probe_until_chosen(health, standby, position)
    assert _visible(standby, name)


def test_paused_replay_sends_the_read_to_the_primary_until_replayed(
    engines: tuple[Engine, Engine], gearbox_standby: Standby
) -> None:
    primary, standby = engines
    health = ReplicaHealth(1)
    gearbox_standby.pause_replay()
    name, position = _write(primary)
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


def _probe(health: ReplicaHealth, primary: Engine, standby: Engine) -> None:
    """One health probe as the executor will make it: the primary first, then the replica."""
    with primary.connect() as conn:
        health.primary_at(q.to_position(conn.execute(q.PRIMARY_POSITION).one()))
    status = _status(standby)
    if status.usable and status.replayed is not None:
        health.replayed(0, status.replayed)
    else:
        health.failed(0)


def test_a_paused_standby_is_skipped_once_it_lags_too_long(
    engines: tuple[Engine, Engine], gearbox_standby: Standby
) -> None:
    primary, standby = engines
    clock = Clock()
    health = ReplicaHealth(1, ReplicaPolicy(max_replica_lag=10), clock=clock)
    gearbox_standby.pause_replay()
    _probe(health, primary, standby)  # nothing written since the pause: no lag
    assert health.choose() == 0
    _write(primary)
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
    engines: tuple[Engine, Engine], gearbox_standby: Standby
) -> None:
    primary, standby = engines
    clock = Clock()
    health = ReplicaHealth(1, ReplicaPolicy(retry_after=1), clock=clock)
    _probe(health, primary, standby)
    assert health.choose() == 0
    gearbox_standby.stop()
    standby.dispose()  # its pooled connections died with it
    with pytest.raises(OperationalError):
        _status(standby)
    health.failed(0)
    assert health.choose() is None
    assert health.due() == []  # not before the backoff
    gearbox_standby.start()
    clock.now += 1
    assert health.due() == [0]
    _probe(health, primary, standby)
    assert health.choose() == 0
