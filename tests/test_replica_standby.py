"""The streaming standby the read-replica tests run against (issue 14, point 4).

A standby of the run's server, made with ``pg_basebackup -R`` by the
server's own binaries: rows written on the primary reach it, paused replay
holds them back until resumed, it survives a stop and a start, and removing
it leaves no process and no file behind.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from gearbox_db.testing import TestServer
from gearbox_db.testing._replica import Standby
from gearbox_db.testing._server import _base_dir
from tests.replica import (
    _gearbox_standby_session,
    gearbox_standby,
    pgbouncer_for,
    standby_or_skip,
)

__all__ = ["_gearbox_standby_session", "gearbox_standby"]  # the fixtures, used by name

pytestmark = pytest.mark.slow


def _add_category(url: str) -> tuple[str, str]:
    """Commit a new category on the primary; its name and the WAL position after the commit."""
    name = f"tents-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as primary:
        primary.execute("INSERT INTO categories (name) VALUES (%s)", (name,))
        # The insert position: the throwaway server commits asynchronously, so the
        # write position (pg_current_wal_lsn) may still be short of the commit record.
        row = primary.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
    assert row is not None
    return name, str(row[0])


def _names_on(standby: Standby, url: str) -> set[str]:
    with psycopg.connect(standby.url_of(url)) as conn:
        return {str(name) for (name,) in conn.execute("SELECT name FROM categories")}


def test_a_committed_row_reaches_the_standby(
    gearbox_standby: Standby, gearbox_database_url: str
) -> None:
    name, lsn = _add_category(gearbox_database_url)
    gearbox_standby.wait_for_replay(lsn)
    assert name in _names_on(gearbox_standby, gearbox_database_url)
    with psycopg.connect(gearbox_standby.url_of(gearbox_database_url)) as standby:
        assert standby.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            standby.execute("INSERT INTO categories (name) VALUES ('nope')")


def test_paused_replay_holds_new_writes_back_until_resumed(
    gearbox_standby: Standby, gearbox_database_url: str
) -> None:
    gearbox_standby.wait_for_replay()  # the new database exists on the standby
    gearbox_standby.pause_replay()
    name, lsn = _add_category(gearbox_database_url)
    with gearbox_standby.connect() as standby:
        behind = standby.execute("SELECT pg_last_wal_replay_lsn() < %s::pg_lsn", (lsn,))
        assert behind.fetchone() == (True,)
    assert name not in _names_on(gearbox_standby, gearbox_database_url)
    gearbox_standby.resume_replay()
    gearbox_standby.wait_for_replay(lsn)
    assert name in _names_on(gearbox_standby, gearbox_database_url)


def test_the_standby_stops_and_starts_again(
    gearbox_standby: Standby, gearbox_database_url: str
) -> None:
    gearbox_standby.wait_for_replay()
    gearbox_standby.stop()
    assert not gearbox_standby.is_running()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(gearbox_standby.conninfo, connect_timeout=5).close()
    name, lsn = _add_category(gearbox_database_url)  # written while it is down
    gearbox_standby.start()
    gearbox_standby.wait_for_replay(lsn)
    assert name in _names_on(gearbox_standby, gearbox_database_url)


def _ended(pid: int, timeout: float = 10) -> bool:
    """Whether process ``pid`` ends (or is a zombie) within ``timeout`` seconds.

    ``pg_ctl stop`` returns once the postmaster removed its pid file, a moment
    before the process itself exits.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.005)  # polling until the process exits, up to the deadline
    return False


def _postmaster(standby: Standby) -> int:
    return int((standby.data_dir / "postmaster.pid").read_text().splitlines()[0])


def test_removing_a_standby_leaves_nothing_running(gearbox_server: TestServer) -> None:
    # Where the run's standbys go (/dev/shm), which the standby's account can enter
    # (pytest's tmp_path is root's alone when root runs the tests).
    base = Path(tempfile.mkdtemp(prefix="gearbox-db-standbys-", dir=_base_dir()))
    base.chmod(0o755)
    try:
        standby = standby_or_skip(gearbox_server, base)
        pid, home = _postmaster(standby), standby.home
        assert standby.is_running()
        standby.remove()
        assert _ended(pid)
        assert not home.exists()
        assert list(base.iterdir()) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)
    with psycopg.connect(gearbox_server.conninfo, autocommit=True) as primary:
        query = "SELECT count(*) FROM pg_stat_replication WHERE application_name = %s"
        assert primary.execute(query, (standby.name,)).fetchone() == (0,)
        slots = "SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s"
        assert primary.execute(slots, (standby.name,)).fetchone() == (0,)


def test_the_standby_serves_reads_through_pgbouncer(
    gearbox_standby: Standby, gearbox_database_url: str
) -> None:
    name, lsn = _add_category(gearbox_database_url)
    gearbox_standby.wait_for_replay(lsn)
    dbname = str(conninfo_to_dict(gearbox_database_url)["dbname"])
    # PgBouncer 1.18 tracks no prepared statements: psycopg must prepare none.
    with (
        pgbouncer_for(gearbox_standby, dbname) as url,
        psycopg.connect(url, prepare_threshold=None) as conn,
    ):
        for _ in range(10):  # beyond psycopg's default prepare threshold (5)
            query = "SELECT pg_is_in_recovery(), count(*) FROM categories WHERE name = %s"
            assert conn.execute(query, (name,)).fetchone() == (True, 1)
