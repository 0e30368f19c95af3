"""All or nothing when the import dies, and one clear error for files that cannot be read."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from gearbox_db.importer import (
    APPLICATION_NAME,
    ImportFailedError,
    Silent,
    SourceError,
    import_sqlite,
)
from gearbox_db.testing import legacy
from tests.importer_oracle import digest, snapshot

#: Runs an import that stops (sleeps) at a chosen moment, after writing an event file.
_STOPPING_IMPORT = """
import pathlib, sys, time
from gearbox_db.importer import Silent, import_sqlite

source, url, event, moment, table = sys.argv[1:]

class StopThere(Silent):
    def _stop(self, now, name):
        if (now, name) == (moment, table):
            pathlib.Path(event).write_text("there")
            time.sleep(600)
    def advanced(self, name, rows):
        self._stop("advanced", name)
    def table_finished(self, summary):
        self._stop("finished", summary.table)

import_sqlite(source, url, progress=StopThere())
"""


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file whose items take several batches (the import is stopped in the middle)."""
    path = tmp_path_factory.mktemp("legacy") / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=20000, seed=9))
    return path


def _wait_for(event: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not event.exists():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "the import never reached the moment"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("moment", "table"), [("advanced", "items"), ("finished", "settings")], ids=["copy", "end"]
)
def test_killing_the_import_leaves_the_target_as_it_was(
    moment: str, table: str, big_file: Path, gearbox_database_url: str, tmp_path: Path
) -> None:
    before = snapshot(gearbox_database_url)
    event = tmp_path / "event"
    args = [big_file, gearbox_database_url, event, moment, table]
    process = subprocess.Popen(
        [sys.executable, "-c", _STOPPING_IMPORT, *map(str, args)], stderr=subprocess.PIPE
    )
    try:
        _wait_for(event, process)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert snapshot(gearbox_database_url) == before
    assert import_sqlite(big_file, gearbox_database_url).written  # and nothing is left locked


class _Terminator(Silent):
    """Ends the importer's connection from the server side in the middle of items."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.done = False

    def advanced(self, table: str, rows: int) -> None:
        if table != "items" or self.done:
            return
        with psycopg.connect(self.url, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND datname = current_database()",
                (APPLICATION_NAME,),
            ).fetchall()
        assert ended == [(True,)]
        self.done = True


def test_losing_the_connection_leaves_the_target_as_it_was(
    big_file: Path, gearbox_database_url: str
) -> None:
    before = snapshot(gearbox_database_url)
    terminator = _Terminator(gearbox_database_url)
    with pytest.raises(ImportFailedError, match="writing to the database failed"):
        import_sqlite(big_file, gearbox_database_url, progress=terminator)
    assert terminator.done
    assert snapshot(gearbox_database_url) == before


# --- files that cannot be read ------------------------------------------------------


@pytest.fixture
def locked_file(tmp_path: Path) -> Iterator[Path]:
    """A legacy file another process is writing (rollback journal: readers must wait)."""
    path = tmp_path / "locked.db"
    legacy.generate(path, legacy.Spec(items=5))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield path
    holder.rollback()
    holder.close()


def _corrupt(path: Path) -> Path:
    legacy.generate(path, legacy.Spec(items=3000))
    data = bytearray(path.read_bytes())
    page = 4096
    data[page * 8 : page * 40] = b"\xa5" * (page * 32)  # garbage over b-tree pages
    path.write_bytes(bytes(data))
    return path


def _foreign(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE photos (id integer PRIMARY KEY, url text)")
    conn.close()
    return path


BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing": (lambda p: p / "nothing-here.db", "no such file"),
    "directory": (lambda p: p, "not a file"),
    "not sqlite": (lambda p: _write(p / "notes.db", b"Not a database, just notes.\n" * 200),
                   "not a SQLite database"),
    "empty": (lambda p: _write(p / "empty.db", b""), "no GearBox table"),
    "not gearbox": (lambda p: _foreign(p / "photos.db"), "no GearBox table"),
    "corrupt": (lambda p: _corrupt(p / "corrupt.db"), "corrupt"),
}  # fmt: skip


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_gets_one_clear_error_and_nothing_is_written(
    case: str, tmp_path: Path, gearbox_database_url: str
) -> None:
    make, message = BAD_FILES[case]
    path = make(tmp_path)
    before = snapshot(gearbox_database_url)
    with pytest.raises(SourceError, match=message) as error:
        import_sqlite(path, gearbox_database_url)
    assert "\n" not in str(error.value)
    assert str(path) in str(error.value)
    assert snapshot(gearbox_database_url) == before


def test_a_locked_file_is_reported_as_locked(locked_file: Path, gearbox_database_url: str) -> None:
    before = digest(locked_file)
    with pytest.raises(SourceError, match="locked by another process"):
        import_sqlite(locked_file, gearbox_database_url, busy_timeout=0.2)
    assert digest(locked_file) == before


def test_a_target_in_use_is_reported_after_the_lock_timeout(
    big_file: Path, gearbox_database_url: str
) -> None:
    with psycopg.connect(gearbox_database_url) as service:
        service.execute("SELECT count(*) FROM items")  # holds a lock until its transaction ends
        with pytest.raises(ImportFailedError, match="in use by another session"):
            import_sqlite(big_file, gearbox_database_url, lock_timeout=0.2)
