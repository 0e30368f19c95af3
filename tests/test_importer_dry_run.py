"""``import-sqlite --dry-run`` judges the file alone: no database at all (issue 10, point 8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gearbox_db.importer import import_sqlite
from gearbox_db.testing import legacy

NOWHERE = "postgresql://nobody:Sekrit4711@127.0.0.1:1/gearbox"  # nothing listens there


def _cli(*args: str, database_url: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "gearbox_db", "import-sqlite", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_dry_run_with_a_report_needs_no_database(tmp_path: Path) -> None:
    path, report = tmp_path / "gearbox.db", tmp_path / "report.json"
    legacy.generate(path, legacy.Spec(items=30, problems=frozenset({"orphan"})))
    done = _cli(str(path), "--dry-run", "--report", str(report), database_url=NOWHERE)
    assert done.returncode == 1, done.stderr  # a problem, reported; not a connection error
    assert "cannot connect" not in done.stderr
    assert "127.0.0.1:1" not in done.stderr  # no database was even named
    problems = json.loads(report.read_text("utf-8"))
    assert [p["problem"] for p in problems] == ["orphan"] * len(problems)
    assert problems


def test_a_dry_run_table_says_what_would_be_written(tmp_path: Path) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=12))
    done = _cli(str(path), "--dry-run", database_url=NOWHERE)
    assert done.returncode == 0, done.stderr
    head = next(line for line in done.stdout.splitlines() if line.startswith("table"))
    assert head.split() == ["table", "read", "to", "write", "to", "repair", "to", "drop", "s"]
    assert "written" not in done.stdout
    assert "dry run: the file can be imported" in done.stdout


def test_a_dry_run_never_refuses_because_of_the_target(
    tmp_path: Path, gearbox_database_url: str
) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=10))
    assert import_sqlite(path, gearbox_database_url).written  # the target now holds data
    result = import_sqlite(path, gearbox_database_url, dry_run=True)
    assert result.dry_run
    assert not result.written
    assert result.ok
