"""The command line ``gearbox-db`` / ``python -m gearbox_db``, against real PostgreSQL.

Most tests run it in-process through :func:`gearbox_db.cli.main`; exit codes
of the real process, the entry points, the embedded default and concurrent
upgrades run it as subprocesses.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, text

from gearbox_db import __version__, cli, embedded, migrations
from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.migrations import LOCK_KEY, Revision

SECRET = "s3cr3t-Pw"
UNREACHABLE = f"postgresql://app:{SECRET}@127.0.0.1:1/gearbox"
UNREACHABLE_QUERY_PASSWORD = f"postgresql://app@127.0.0.1:1/gearbox?password={SECRET}"
COMMANDS = [command.name for command in cli.SUBCOMMANDS]
DATABASE_COMMANDS = [command.name for command in cli.SUBCOMMANDS if command.needs_database]
SAMPLE = str(Path(__file__).parent.parent / "examples" / "gearbox-sample.db")
ARGS: dict[str, list[str]] = {  # arguments a command needs
    "downgrade": ["base"],
    "stamp": ["head"],
    "import-sqlite": [SAMPLE],
}
_REAL_EMBEDDED_START = embedded.start


def _refuse_embedded(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the test started the embedded server by accident")


@pytest.fixture(autouse=True)
def _no_ambient_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DATABASE_URL from the caller's shell, and no embedded server unless asked for."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(embedded, "start", _refuse_embedded)


def run(*argv: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m gearbox_db *argv`` in a subprocess, without the caller's DATABASE_URL."""
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | dict(env or {})
    return subprocess.run(
        [sys.executable, "-m", "gearbox_db", *argv],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def sql(url: str, statement: str) -> Any:
    """Run one statement on ``url`` in its own transaction; return the first column of row 1."""
    engine = create_engine(to_sqlalchemy_url(url))
    try:
        with engine.begin() as connection:
            result = connection.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def head_line() -> str:
    return f"{migrations.head()} (head)"


# --- help, version, usage errors -----------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_each_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"usage: gearbox-db {command}" in out
    assert "--database-url" in out
    assert f"gearbox-db {command}" in out.split("\nexample:\n")[1]


def test_main_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n    {command} " in out for command in COMMANDS), out
    assert "exit codes: 0 done, 1 failed, 2 usage error" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"gearbox-db {__version__}\n"


@pytest.mark.parametrize(
    "argv",
    [[], ["bogus"], ["downgrade"], ["current", "--bogus"], ["upgrade", "a", "b"], ["history", "x"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: gearbox-db")
    assert "gearbox-db" in err.splitlines()[-1]
    assert ": error: " in err.splitlines()[-1]


def test_usage_error_does_not_echo_a_password(capsys: pytest.CaptureFixture[str]) -> None:
    # The URL given without --database-url is an unrecognised argument, echoed by argparse.
    assert cli.main(["current", UNREACHABLE]) == 2
    err = capsys.readouterr().err
    assert SECRET not in err
    assert "unrecognized arguments: postgresql://app:***@127.0.0.1:1/gearbox" in err


def test_option_before_the_command_counts(
    gearbox_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--database-url", gearbox_database_url, "current"]) == 0
    assert capsys.readouterr().out == f"{head_line()}\n"


# --- failures: exit 1, one line, no password -----------------------------------


@pytest.mark.parametrize("url", [UNREACHABLE, UNREACHABLE_QUERY_PASSWORD])
@pytest.mark.parametrize("command", DATABASE_COMMANDS)
def test_unreachable_database_fails_without_showing_the_password(
    command: str, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([command, *ARGS.get(command, []), "--database-url", url]) == 1
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    assert out == ""
    using, error = err.splitlines()  # exactly two lines: no traceback
    assert using.startswith("gearbox-db: using postgresql://app")
    assert "***" in using
    assert using.removesuffix(" (from --database-url)").endswith(
        ("@127.0.0.1:1/gearbox", "?password=***")
    )
    assert error.startswith("gearbox-db: error: cannot connect to the database: ")
    assert "Connection refused" in error


def test_unreachable_database_from_env_masks_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    assert cli.main(["current"]) == 1
    err = capsys.readouterr().err
    assert SECRET not in err
    assert "using postgresql://app:***@127.0.0.1:1/gearbox (from DATABASE_URL)" in err


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"postgresql://app:{SECRET}@127.0.0.1:notaport/db", "not a database URL"),
        (f"mysql://app:{SECRET}@127.0.0.1/db", "gearbox_db needs a PostgreSQL URL"),
    ],
)
def test_bad_url_fails_with_one_line(
    url: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["upgrade", "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert SECRET not in err
    assert err.splitlines()[-1].startswith(f"gearbox-db: error: {message}")
    assert len(err.splitlines()) == 2


def test_unknown_revision_fails_with_one_line(
    gearbox_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["upgrade", "nosuchrev", "--database-url", gearbox_database_url]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1].startswith("gearbox-db: error: upgrade to 'nosuchrev' failed")
    assert len(err.splitlines()) == 2


def test_empty_database_url_option_is_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)  # not silently used instead
    assert cli.main(["current", "--database-url", ""]) == 1
    assert "gearbox-db: error: not a database URL" in capsys.readouterr().err


@pytest.mark.parametrize(
    "message",
    [f"boom at {UNREACHABLE.replace('gearbox', 'other')}\n\tsecond line", f"bad password {SECRET}"],
)
def test_unexpected_exception_is_one_redacted_line(
    message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(url: str) -> tuple[str, ...]:
        raise RuntimeError(message)

    monkeypatch.setattr(migrations, "current", explode)
    assert cli.main(["current", "--database-url", UNREACHABLE]) == 1
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    last = err.splitlines()[-1]
    assert last.startswith("gearbox-db: error: unexpected RuntimeError: ")
    assert len(err.splitlines()) == 2
    assert "***" in last


def test_interrupt_exits_130(
    gearbox_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupt(url: str) -> tuple[str, ...]:
        raise KeyboardInterrupt

    monkeypatch.setattr(migrations, "current", interrupt)
    assert cli.main(["current", "--database-url", gearbox_database_url]) == 130
    assert capsys.readouterr().err.endswith("gearbox-db: interrupted\n")


@pytest.mark.slow
def test_process_exit_codes_and_masking() -> None:
    failed = run("check", "--database-url", UNREACHABLE)
    assert failed.returncode == 1
    assert SECRET not in failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr
    assert failed.stderr.splitlines()[-1].startswith("gearbox-db: error: cannot connect")
    usage = run("downgrade", "--database-url", UNREACHABLE)  # REV missing
    assert usage.returncode == 2
    assert SECRET not in usage.stdout + usage.stderr
    assert "the following arguments are required: REV" in usage.stderr


# --- the commands ---------------------------------------------------------------


def test_check_passes_on_a_migrated_database(
    gearbox_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["check", "--database-url", gearbox_database_url]) == 0
    assert capsys.readouterr().out == f"schema matches gearbox-db {__version__}\n"


def test_check_fails_on_an_extra_column(
    gearbox_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sql(gearbox_database_url, "ALTER TABLE items ADD COLUMN extra int")
    assert cli.main(["check", "--database-url", gearbox_database_url]) == 1
    out, err = capsys.readouterr()
    assert "  remove_column items.extra INTEGER" in out.splitlines()
    assert len(out.splitlines()) == 2  # header and the one difference
    assert "gearbox-db: error: the database schema differs (1 difference)" in err
    assert "hint" not in err  # the database is at head: upgrading would not help


def test_check_describes_other_kinds_of_differences(
    gearbox_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sql(gearbox_database_url, "ALTER TABLE items ALTER COLUMN notes SET DEFAULT 'x'")
    sql(gearbox_database_url, "ALTER TABLE items ALTER COLUMN price_cents TYPE bigint")
    sql(gearbox_database_url, "CREATE INDEX ix_extra ON items (name)")
    sql(gearbox_database_url, "DROP TABLE settings")
    assert cli.main(["check", "--database-url", gearbox_database_url]) == 1
    lines = set(capsys.readouterr().out.splitlines())
    assert "  modify_default items.notes: 'x'::text -> None" in lines
    assert "  modify_type items.price_cents: BIGINT -> INTEGER" in lines
    assert "  remove_index ix_extra on items" in lines
    assert "  add_table settings" in lines


def test_check_of_an_unmigrated_database_suggests_upgrade(
    gearbox_empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["check", "--database-url", gearbox_empty_database_url]) == 1
    out, err = capsys.readouterr()
    assert "  add_table items" in out.splitlines()
    assert "hint: the database is at base (not migrated" in err
    assert "try 'gearbox-db upgrade'" in err


def test_upgrade_current_downgrade_round_trip(
    gearbox_empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--database-url", gearbox_empty_database_url]
    head = migrations.head()
    assert cli.main(["current", *url]) == 0
    assert capsys.readouterr().out == f"base (not migrated; head is {head})\n"
    assert cli.main(["upgrade", *url]) == 0
    assert capsys.readouterr().out == f"upgrade: done; the database is at {head} (head)\n"
    assert sql(gearbox_empty_database_url, "SELECT count(*) FROM categories") == 1
    assert cli.main(["current", *url]) == 0
    assert capsys.readouterr().out == f"{head} (head)\n"
    assert cli.main(["downgrade", "base", *url]) == 0
    assert capsys.readouterr().out.startswith("downgrade: done; the database is at base")
    assert sql(gearbox_empty_database_url, "SELECT to_regclass('items')::text") is None
    assert migrations.current(gearbox_empty_database_url) == ()


def test_current_of_a_database_ahead_of_the_package(
    gearbox_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sql(gearbox_database_url, "UPDATE gearbox_db_version SET version_num = '9999'")
    assert cli.main(["current", "--database-url", gearbox_database_url]) == 0
    out = capsys.readouterr().out
    assert out == f"9999 (unknown to gearbox-db {__version__}; its head is {migrations.head()})\n"


def test_history_marks_head_and_current(
    gearbox_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["history", "--database-url", gearbox_database_url]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    newest = migrations.history()[0]
    assert newest.revision == migrations.head()
    summary = newest.message.splitlines()[0]
    older = newest.down_revision or "base"
    assert first == f"{older} -> {newest.revision} (head, current)  {summary}"


def test_history_lists_newest_first(
    gearbox_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    revisions = [
        Revision(revision="b2", down_revision="a1", message="Second\n\nmore", is_head=True),
        Revision(revision="a1", down_revision=None, message="First", is_head=False),
    ]
    monkeypatch.setattr(migrations, "history", lambda: revisions)
    sql(gearbox_database_url, "UPDATE gearbox_db_version SET version_num = 'a1'")
    assert cli.main(["history", "--database-url", gearbox_database_url]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "a1 -> b2 (head)  Second",
        "base -> a1 (current)  First",
    ]


# --- choosing the database -------------------------------------------------------


def test_database_url_env_is_honoured(
    gearbox_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", gearbox_database_url)
    assert cli.main(["current"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{head_line()}\n"
    assert err.endswith("(from DATABASE_URL)\n")


def test_database_url_option_beats_env(
    gearbox_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    assert cli.main(["current", "--database-url", gearbox_database_url]) == 0
    err = capsys.readouterr().err
    assert err.endswith("(from --database-url)\n")
    assert SECRET not in err


@pytest.fixture
def embedded_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh GEARBOX_DB_EMBEDDED_DIR on tmpfs; its server is stopped and removed after."""
    base = Path(tempfile.mkdtemp(prefix="gearbox-db-cli-test-", dir="/dev/shm"))
    base.chmod(0o755)  # as root the server's own account must reach its data directory
    data_dir = base / "postgres"
    monkeypatch.setenv(embedded.DATA_DIR_ENV, str(data_dir))
    monkeypatch.setattr(embedded, "start", _REAL_EMBEDDED_START)
    try:
        yield data_dir
    finally:
        embedded.stop(data_dir, remove=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_embedded_server_is_the_default_and_keeps_running(embedded_dir: Path) -> None:
    first = run("upgrade")
    assert first.returncode == 0, first.stderr
    assert re.fullmatch(
        rf"gearbox-db: using the embedded development PostgreSQL \d+\.\d+ at {embedded_dir} "
        r"\(started it; it keeps running in the background\)\n"
        # a server without pg_trgm (the pgserver PostgreSQL 16): the migration says so
        r"(pg_trgm is not available to this database user: [^\n]*\n)?",
        first.stderr,
    )
    assert embedded.is_running(embedded_dir)
    second = run("current")
    assert second.returncode == 0, second.stderr
    assert "(already running)" in second.stderr
    assert second.stdout == f"{head_line()}\n"


@pytest.mark.slow
def test_embedded_command_shows_prints_the_url_of_and_stops_the_server(
    embedded_dir: Path,
) -> None:
    assert (
        run("embedded", "status").stdout == f"embedded PostgreSQL at {embedded_dir}: not running\n"
    )
    url = run("embedded", "url")
    assert url.returncode == 0, url.stderr
    assert url.stdout.startswith("postgresql://postgres@/gearbox?host=")
    assert embedded.is_running(embedded_dir)
    assert (
        run("current", "--database-url", url.stdout.strip()).stdout
        == f"base (not migrated; head is {migrations.head()})\n"
    )
    assert run("embedded", "status").stdout.endswith(": running\n")
    assert run("embedded", "stop").stdout == f"stopped the embedded PostgreSQL at {embedded_dir}\n"
    assert not embedded.is_running(embedded_dir)
    assert run("embedded", "stop").stdout == "it was not running\n"


# --- entry points and concurrency ----------------------------------------------------


def test_console_script_entry_point_is_main() -> None:
    (script,) = entry_points(group="console_scripts", name="gearbox-db")
    assert script.load() is cli.main


@pytest.mark.slow
def test_python_m_runs_the_cli(gearbox_database_url: str) -> None:
    result = run("current", "--database-url", gearbox_database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{head_line()}\n"
    assert run("--version").stdout == f"gearbox-db {__version__}\n"


def _waiting_for_lock(admin: psycopg.Connection[Any]) -> int:
    # A migrator waits for the lock outside any transaction, listening (see migrations/env.py).
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND state = 'idle' AND query LIKE 'SELECT pg_try_advisory_lock(%%'"
    ).fetchone()
    assert row is not None
    return int(row[0])


def _wait_until_all_block(admin: psycopg.Connection[Any], processes: list[Any]) -> None:
    """Return once every process waits for the migration lock (fail if one exits first)."""
    deadline = time.monotonic() + 60
    while _waiting_for_lock(admin) < len(processes):
        exited = [p for p in processes if p.poll() is not None]
        assert not exited, [p.communicate() for p in exited]
        assert time.monotonic() < deadline, "the upgrades never reached the advisory lock"


@pytest.mark.slow
def test_three_concurrent_upgrades_all_succeed(gearbox_empty_database_url: str) -> None:
    url = gearbox_empty_database_url
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    command = [sys.executable, "-m", "gearbox_db", "upgrade", "--database-url", url]
    with psycopg.connect(url, autocommit=True) as admin:
        # Hold the migration lock so that all three are inside upgrade at once.
        admin.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        processes = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(3)
        ]
        try:
            _wait_until_all_block(admin, processes)
        except BaseException:
            for process in processes:
                process.kill()
            raise
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    assert migrations.current(url) == (migrations.head(),)
    assert sql(url, "SELECT count(*) FROM categories WHERE name = 'Uncategorized'") == 1


# --- upgrade --sql and stamp -----------------------------------------------------


def test_upgrade_sql_prints_the_sql_without_a_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("GEARBOX_DB_EMBEDDED_DIR", "/nonexistent/never-started")
    assert cli.main(["upgrade", "--sql"]) == 0
    captured = capsys.readouterr()
    assert "CREATE TABLE items" in captured.out
    assert captured.out.count("CREATE INDEX CONCURRENTLY") >= 1
    assert f"version_num='{migrations.head()}'" in captured.out
    assert "using" not in captured.err  # no database was chosen, none started


def test_upgrade_sql_from_a_revision_prints_only_the_later_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    oldest = migrations.history()[-1].revision
    assert cli.main(["upgrade", "--sql", "--from", oldest]) == 0
    out = capsys.readouterr().out
    assert "CREATE TABLE items" not in out
    assert f"Running upgrade {oldest} -> " in out


def test_upgrade_sql_then_stamp_is_an_upgrade(
    gearbox_empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A DBA runs the printed SQL by hand, then stamps: the database is at head and matches."""
    url = gearbox_empty_database_url
    assert cli.main(["upgrade", "--sql"]) == 0
    script = capsys.readouterr().out
    raw = psycopg.connect(url, autocommit=True)  # the script has its own BEGIN/COMMIT
    with raw:  # statement by statement, as psql runs it (Alembic ends each with ";\n\n")
        available = raw.execute(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'"
        ).fetchone()
        for statement in script.split(";\n\n"):
            if available == (0,) and "trgm" in statement.split("\n")[-1]:
                continue  # what the script's comment tells the DBA to skip without pg_trgm
            if statement.strip():
                raw.execute(statement.encode())
    assert migrations.current(url) == (migrations.head(),)
    assert migrations.check(url) == []
    assert cli.main(["stamp", "base", "--database-url", url]) == 0
    assert "the database is at base" in capsys.readouterr().out
    assert migrations.current(url) == ()
    assert cli.main(["stamp", migrations.head(), "--database-url", url]) == 0
    assert migrations.current(url) == (migrations.head(),)
    assert sql(url, "SELECT count(*) FROM categories") == 1  # stamping ran nothing
