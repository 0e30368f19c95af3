"""``import-sqlite`` on the command line: output, exit codes, the JSON report."""

from __future__ import annotations

import argparse
import io
import json
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from gearbox_db import cli as main_cli
from gearbox_db.importer import cli
from gearbox_db.testing import legacy
from tests.importer_oracle import digest


def parse(*argv: str) -> argparse.Namespace:
    return main_cli.build_parser([cli.COMMAND]).parse_args(["import-sqlite", *argv])


def run(url: str, *argv: str) -> int:
    args = parse(*argv)
    assert args.handler is cli.run
    return main_cli.execute(args, url)


def test_a_clean_file_imports_with_a_summary(
    tmp_path: Path, gearbox_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=30))
    assert run(gearbox_database_url, str(path)) == 0
    out, err = capsys.readouterr()
    assert "imported" in out
    assert "items" in out
    assert "verified 30" in out
    assert "import items: 30 read, 30 written" in err  # not a terminal: plain lines


def test_an_unwritable_report_is_refused_before_importing(
    tmp_path: Path, gearbox_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=10))
    assert run(gearbox_database_url, str(path), "--report", str(tmp_path / "no" / "r.json")) == 1
    _, err = capsys.readouterr()
    assert "no such directory" in err
    assert "nothing was imported" in err
    assert run(gearbox_database_url, str(path)) == 0  # the target was left empty


def test_problems_exit_1_with_a_json_report(
    tmp_path: Path, gearbox_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, report = tmp_path / "gearbox.db", tmp_path / "report.json"
    made = legacy.generate(path, legacy.Spec(items=40, problems=frozenset(legacy.PROBLEM_KINDS)))
    before = digest(path)
    assert run(gearbox_database_url, str(path), "--report", str(report)) == 1
    out, _ = capsys.readouterr()
    assert "nothing was written" in out
    problems = json.loads(report.read_text("utf-8"))
    assert isinstance(problems, list)
    assert len(problems) == len(made.planted)
    for problem in problems:
        keys = {"table", "id", "column", "value", "problem", "message", "repair", "repaired"}
        assert set(problem) == keys
        assert problem["repaired"] is False
    sessions = [p for p in problems if p["table"] == "sessions"]
    assert sessions
    assert all(len(p["id"]) == 64 for p in sessions)  # the token's hash, never the token
    assert digest(path) == before


def test_repair_exits_0_and_lists_each_repair(
    tmp_path: Path, gearbox_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, report = tmp_path / "gearbox.db", tmp_path / "report.json"
    legacy.generate(path, legacy.Spec(items=40, problems={"orphan", "bad_timestamp"}))
    assert run(gearbox_database_url, str(path), "--repair", "--report", str(report)) == 0
    out, _ = capsys.readouterr()
    assert "repaired: moved to Uncategorized" in out
    assert "repaired: set to updated_at" in out
    assert all(p["repaired"] for p in json.loads(report.read_text("utf-8")))


def test_dry_run_and_replace(
    tmp_path: Path, gearbox_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=10))
    assert run(gearbox_database_url, str(path), "--dry-run") == 0
    assert "dry run: the file can be imported" in capsys.readouterr().out
    assert run(gearbox_database_url, str(path)) == 0
    assert run(gearbox_database_url, str(path)) == 1
    assert "--replace" in capsys.readouterr().err
    assert run(gearbox_database_url, str(path), "--replace") == 0


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as missing:
        parse()
    with pytest.raises(SystemExit) as unknown:
        parse("x.db", "--frobnicate")
    assert missing.value.code == unknown.value.code == 2


_CLI = """
import sys
from gearbox_db import cli
args = cli.build_parser().parse_args(["import-sqlite", sys.argv[1]])
sys.exit(cli.execute(args, sys.argv[2]))
"""


def test_a_bad_file_is_one_line_on_stderr_and_exit_1(
    tmp_path: Path, gearbox_database_url: str
) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database\n" * 100)
    done = subprocess.run(
        [sys.executable, "-c", _CLI, str(path), gearbox_database_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"gearbox-db: error: {path}: not a SQLite database"
    assert "Traceback" not in done.stdout + done.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_and_a_pipe_gets_lines() -> None:
    from gearbox_db.importer import Bar, LogLines, TableSummary, for_stream

    terminal = _Terminal()
    bar = for_stream(terminal)
    assert isinstance(bar, Bar)
    bar.table_started("items", 10)
    bar.advanced("items", 10)
    bar.table_finished(TableSummary("items", read=10, written=10))
    shown = terminal.getvalue()
    assert "items" in shown
    assert "0/10" in shown
    assert shown.endswith("import items: 10 read, 10 written, 0 repaired, 0 dropped in 0.00 s\n")
    assert isinstance(for_stream(io.StringIO()), LogLines)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.mark.parametrize("columns", [50, 120])
def test_the_bar_fits_the_terminal_with_rate_and_time_left(
    columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gearbox_db.importer import Bar, TableSummary

    monkeypatch.setenv("COLUMNS", str(columns))
    ticks = iter(range(1000))
    terminal = _Terminal()
    bar = Bar(terminal, clock=lambda: float(next(ticks)))  # one second per look at the clock
    bar.table_started("items", 100_000)
    for _ in range(5):
        bar.advanced("items", 2_000)
    drawn = [_ANSI.sub("", piece) for piece in re.split(r"[\r\n]", terminal.getvalue())]
    drawn = [piece for piece in drawn if piece.strip()]
    assert drawn
    assert max(len(piece) for piece in drawn) <= columns
    last = drawn[-1]
    assert "10000/100000" in last
    assert re.search(r"[\d,]+ rows/s", last), last
    assert re.search(r"\d+:\d\d:\d\d", last), last  # the time left
    bar.table_finished(TableSummary("items", read=100_000, written=100_000))
    assert terminal.getvalue().endswith("0 dropped in 0.00 s\n")


def test_the_generator_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "made.db"
    code = legacy.main([str(out), "--items", "30", "--release", "0005", "--problem", "orphan"])
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out}: ")
    assert "planted orphan: items" in printed
    with closing(sqlite3.connect(out)) as conn:
        assert legacy.columns_of(conn, "settings") == []  # not in release 0005


def test_errors_never_show_the_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=5))
    url = "postgresql://gearbox:s3cr3t-pw@127.0.0.1:1/gearbox?connect_timeout=2"
    assert run(url, str(path)) == 1
    err = capsys.readouterr().err
    assert err.startswith("gearbox-db: error: ")
    assert err.count("\n") == 1
    assert "s3cr3t-pw" not in err
