"""Tests of the pytest plugin's fixtures (gearbox_db.testing).

Some tests run an inner test suite with ``pytester`` in a subprocess: the
inner run loads the plugin through its ``pytest11`` entry point, as a
third-party service's suite would, and its tests run in a fixed order, so
one test can check what the previous one left behind.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sqlalchemy import Connection, create_engine, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from gearbox_db import migrations
from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.schema import UNCATEGORIZED, categories
from gearbox_db.testing import TestServer, isolated
from gearbox_db.testing import _server as server_module

pytest_plugins = ["pytester"]

PROBE = "test-plugin-probe"
#: Above Linux's largest possible pid (pid_max <= 2**22): surely no live process.
DEAD_PID = 2**22 + 12345

ICONS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)


def _probe_count(connection: Connection) -> int:
    query = select(func.count()).select_from(categories).where(categories.c.name == PROBE)
    return int(connection.execute(query).scalar_one())


def _count_in(url: str) -> int:
    engine = create_engine(to_sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return _probe_count(connection)
    finally:
        engine.dispose()


def _databases(server: TestServer, pattern: str) -> list[str]:
    with psycopg.connect(server.conninfo, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY datname", (pattern,)
        ).fetchall()
    return [str(name) for (name,) in rows]


@pytest.fixture
def admin(gearbox_server: TestServer) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the run's server, of our own."""
    with psycopg.connect(gearbox_server.conninfo, autocommit=True) as connection:
        yield connection


# -- the fixtures -------------------------------------------------------------


def test_empty_database_has_no_tables(gearbox_empty_database_url: str) -> None:
    with psycopg.connect(gearbox_empty_database_url) as connection:
        tables = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
    assert tables == []
    assert migrations.current(gearbox_empty_database_url) == ()


def test_database_url_is_migrated_to_head(gearbox_database_url: str) -> None:
    assert migrations.current(gearbox_database_url) == (migrations.head(),)
    assert migrations.check(gearbox_database_url) == []


def test_connection_is_migrated_to_head(gearbox_connection: Connection) -> None:
    assert migrations.current(gearbox_connection) == (migrations.head(),)
    names = gearbox_connection.execute(select(categories.c.name)).scalars().all()
    assert names == [UNCATEGORIZED]


def test_database_urls_are_distinct_per_test(
    gearbox_database_url: str, gearbox_empty_database_url: str, gearbox_template: str
) -> None:
    dbnames = {
        conninfo_to_dict(make_conninfo(url))["dbname"]
        for url in (gearbox_database_url, gearbox_empty_database_url)
    }
    assert len(dbnames) == 2
    assert gearbox_template not in dbnames
    assert all(str(name).startswith(f"gbtest_{os.getpid()}_") for name in dbnames)


@pytest.mark.parametrize("strategy", ["FILE_COPY", "WAL_LOG"])
def test_both_clone_strategies_give_a_migrated_database(
    gearbox_server: TestServer,
    gearbox_template: str,
    strategy: Literal["FILE_COPY", "WAL_LOG"],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gearbox_server, "clone_strategy", strategy)
    with gearbox_server.database(template=gearbox_template) as url:
        assert migrations.current(url) == (migrations.head(),)


def test_clone_strategy_follows_fsync(gearbox_server: TestServer) -> None:
    with psycopg.connect(gearbox_server.conninfo) as connection:
        row = connection.execute("SHOW fsync").fetchone()
    expected = "FILE_COPY" if row and row[0] == "off" else "WAL_LOG"
    assert gearbox_server.pick_clone_strategy() == expected
    if gearbox_server.data_dir is not None:  # the throwaway server runs without fsync
        assert expected == "FILE_COPY"


def test_committed_row_does_not_leak(
    gearbox_server: TestServer, gearbox_template: str, gearbox_database_url: str
) -> None:
    engine = create_engine(to_sqlalchemy_url(gearbox_database_url), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(insert(categories).values(name=PROBE))
    finally:
        engine.dispose()
    assert _count_in(gearbox_database_url) == 1  # committed, seen by a new connection
    # Not in the template (connected to briefly: cloning waits for such backends to end)...
    assert _count_in(gearbox_server.url_for(gearbox_template)) == 0
    # ...nor in the next clone of it.
    with gearbox_server.database(template=gearbox_template) as next_url:
        assert _count_in(next_url) == 0


def test_dropping_ends_connections_left_open(
    gearbox_server: TestServer, gearbox_template: str
) -> None:
    with gearbox_server.database(template=gearbox_template) as url:
        left_open = psycopg.connect(url)
        left_open.execute("SELECT 1")
    name = conninfo_to_dict(url)["dbname"]
    assert _databases(gearbox_server, str(name)) == []
    with pytest.raises(psycopg.OperationalError):
        left_open.execute("SELECT 1")
    left_open.close()


def test_code_under_test_may_use_savepoints(gearbox_connection: Connection) -> None:
    with gearbox_connection.begin_nested():
        gearbox_connection.execute(insert(categories).values(name=PROBE))
    with pytest.raises(IntegrityError), gearbox_connection.begin_nested():
        gearbox_connection.execute(insert(categories).values(name=PROBE))
    # The failed savepoint was rolled back; the released one and the connection remain.
    assert _probe_count(gearbox_connection) == 1
    with isolated(gearbox_connection) as connection:
        savepoint = connection.begin_nested()
        connection.execute(insert(categories).values(name=PROBE + "-2"))
        savepoint.commit()
        # an inner savepoint left open is discarded along with isolated()'s own
        connection.begin_nested()
        connection.execute(insert(categories).values(name=PROBE + "-3"))
    names = gearbox_connection.execute(select(categories.c.name)).scalars().all()
    assert sorted(names) == sorted([UNCATEGORIZED, PROBE])


@settings(
    max_examples=20,
    deadline=None,
    # Function-scoped fixtures live across examples: isolated() resets each one.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(icon=ICONS)
def test_isolated_rolls_back_each_example(gearbox_connection: Connection, icon: str) -> None:
    with isolated(gearbox_connection) as connection:
        # A fixed unique name: the second example would violate uq_categories_name
        # if the first one's row survived.
        connection.execute(insert(categories).values(name=PROBE, icon=icon))
        assert _probe_count(connection) == 1


def test_isolated_rolls_back_every_example_even_failing_ones(
    gearbox_connection: Connection,
) -> None:
    icons: list[str] = []

    @settings(max_examples=20, deadline=None, database=None)
    @given(icon=ICONS)
    def example(icon: str) -> None:
        with isolated(gearbox_connection) as connection:
            connection.execute(insert(categories).values(name=PROBE, icon=icon))
            assert _probe_count(connection) == 1
            icons.append(icon)
            if len(icons) % 3 == 0:
                # An error aborts the transaction; isolated() must still recover it.
                with pytest.raises(IntegrityError):
                    connection.execute(insert(categories).values(name=PROBE))

    example()
    assert len(icons) >= 2
    assert _probe_count(gearbox_connection) == 0


# -- inner suites (pytester) ----------------------------------------------------

INNER_ISOLATION = """
import os
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.pool import NullPool

from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.schema import categories

PROBE = "test-plugin-probe"  # test_plugin.PROBE


def count(connection):
    query = select(func.count()).select_from(categories).where(categories.c.name == PROBE)
    return connection.execute(query).scalar_one()


def test_0_no_server_before_a_fixture_asks():
    Path("pid").write_text(str(os.getpid()))
    assert not list(Path("/dev/shm").glob(f"gearbox-db-test-{os.getpid()}-*"))


def test_1_writes(gearbox_connection):
    gearbox_connection.execute(insert(categories).values(name=PROBE))
    with gearbox_connection.begin_nested():
        gearbox_connection.execute(insert(categories).values(name=PROBE + "-sp"))
    assert count(gearbox_connection) == 1


def test_2_sees_nothing_and_leaves_a_broken_transaction(gearbox_connection):
    assert count(gearbox_connection) == 0
    assert gearbox_connection.execute(select(func.count()).select_from(categories)).scalar() == 1
    gearbox_connection.begin_nested()  # left open
    with pytest.raises(Exception):
        gearbox_connection.execute(text("SELECT * FROM no_such_table"))


def test_3_connection_works_again(gearbox_connection):
    assert count(gearbox_connection) == 0


def test_4_commits(gearbox_database_url):
    engine = create_engine(to_sqlalchemy_url(gearbox_database_url), poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(insert(categories).values(name=PROBE))
        assert count(connection) == 1
    engine.dispose()
    Path("db4").write_text(gearbox_database_url)


def test_5_fresh_database(gearbox_database_url, gearbox_server):
    assert gearbox_database_url != Path("db4").read_text()
    engine = create_engine(to_sqlalchemy_url(gearbox_database_url), poolclass=NullPool)
    with engine.connect() as connection:
        assert count(connection) == 0
    engine.dispose()
    # test 4's database was dropped
    name = to_sqlalchemy_url(Path("db4").read_text()).database
    with psycopg.connect(gearbox_server.conninfo) as admin:
        row = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    assert row is None


def test_6_shared_database_still_clean(gearbox_connection):
    assert count(gearbox_connection) == 0
"""


def test_isolation_in_a_third_party_suite(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default mode (throwaway server), plugin loaded by its entry point."""
    monkeypatch.delenv("GEARBOX_DB_TEST_URL", raising=False)
    pytester.makepyfile(test_inner=INNER_ISOLATION)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["gearbox_db: throwaway embedded PostgreSQL*"])
    result.assert_outcomes(passed=7)
    inner_pid = int((pytester.path / "pid").read_text())
    assert not list(Path("/dev/shm").glob(f"gearbox-db-test-{inner_pid}-*"))


INNER_EXISTING = """
import os
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import text


def test_uses_the_given_server(gearbox_server, gearbox_database_url):
    Path("pid").write_text(str(os.getpid()))
    assert gearbox_server.data_dir is None
    assert conninfo_to_dict(gearbox_database_url)["dbname"].startswith(f"gbtest_{os.getpid()}_")


def test_connection(gearbox_connection):
    assert gearbox_connection.execute(text("SELECT count(*) FROM categories")).scalar() == 1


def test_empty(gearbox_empty_database_url):
    pass
"""


def test_existing_server_mode(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    gearbox_server: TestServer,
    gearbox_template: str,
) -> None:
    monkeypatch.delenv("GEARBOX_DB_TEST_URL", raising=False)
    pytester.makepyfile(test_inner=INNER_EXISTING)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--gearbox-db-url", gearbox_server.url_for("postgres")
    )
    result.stdout.fnmatch_lines(["gearbox_db: existing server *"])
    result.assert_outcomes(passed=3)
    inner_pid = int((pytester.path / "pid").read_text())
    assert _databases(gearbox_server, f"gbtest\\_{inner_pid}\\_%") == []
    # The inner run's stale cleanup left this (live) run's template alone.
    assert _databases(gearbox_server, gearbox_template) == [gearbox_template]


def test_existing_server_from_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, gearbox_server: TestServer
) -> None:
    monkeypatch.setenv("GEARBOX_DB_TEST_URL", gearbox_server.url_for("postgres"))
    pytester.makepyfile(test_inner=INNER_EXISTING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


# -- stale cleanup ------------------------------------------------------------


def _create(admin: psycopg.Connection[Any], name: str, *, template: bool = False) -> None:
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        query += sql.SQL(" IS_TEMPLATE true")
    admin.execute(query)


def test_drop_stale_drops_dead_runs_only(
    gearbox_server: TestServer, gearbox_template: str, admin: psycopg.Connection[Any]
) -> None:
    dead = [f"gbtest_{DEAD_PID}_7", f"gbtest_{DEAD_PID}_tmpl", f"gbtest_{DEAD_PID}_0badcafe_3"]
    _create(admin, dead[0])
    _create(admin, dead[1], template=True)
    _create(admin, dead[2])
    # A live process's database of an older naming scheme (pid only): kept.
    live_old = f"gbtest_{os.getppid()}_5"
    _create(admin, live_old)
    ours = gearbox_server.create_database()
    try:
        gearbox_server.drop_stale()
        left = _databases(gearbox_server, "gbtest\\_%")
        assert not set(dead) & set(left)
        assert {ours, gearbox_template, live_old} <= set(left)
    finally:
        for name in (ours, live_old, *dead):
            gearbox_server.drop_database(name)


def test_drop_stale_spares_a_live_run_on_another_host(
    gearbox_server: TestServer, admin: psycopg.Connection[Any]
) -> None:
    """The pid of a run elsewhere is dead here; its advisory lock says it lives."""
    other = TestServer(conninfo=gearbox_server.conninfo)
    name = f"gbtest_{DEAD_PID}_{other.run_key:08x}_0"
    assert other.run_key != gearbox_server.run_key
    with psycopg.connect(gearbox_server.conninfo, autocommit=True) as lock_holder:
        lock_holder.execute(
            "SELECT pg_advisory_lock(%s, %s)", (server_module._LOCK_SPACE, other.run_key)
        )
        holder_pid = lock_holder.info.backend_pid
        _create(admin, name)
        try:
            gearbox_server.drop_stale()
            assert _databases(gearbox_server, name) == [name]
        except BaseException:
            gearbox_server.drop_database(name)
            raise
    # The other run is gone (its session ended): now its database is stale.
    deadline = time.monotonic() + 10
    while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (holder_pid,)).fetchone():
        assert time.monotonic() < deadline, "the lock holder's backend does not end"
        time.sleep(0.01)
    gearbox_server.drop_stale()
    assert _databases(gearbox_server, name) == []


def test_remove_stale_throwaways(tmp_path: Path) -> None:
    dead = tmp_path / f"gearbox-db-test-{DEAD_PID}-abc"
    dead_old = tmp_path / f"gearbox-db-test-{DEAD_PID}"
    alive = tmp_path / f"gearbox-db-test-{os.getpid()}-abc"
    for directory in (dead, dead_old, alive):
        directory.mkdir()
    server_module._remove_stale_throwaways(tmp_path)
    assert sorted(tmp_path.iterdir()) == [alive]


# -- URLs -----------------------------------------------------------------------


def test_url_for_keeps_connection_parameters() -> None:
    server = TestServer(
        conninfo=make_conninfo(
            "postgresql://ci:p%40ss@db.example:6543/maint?sslmode=require&application_name=ci"
        )
    )
    params = conninfo_to_dict(server.url_for("other"))
    assert params == {
        "user": "ci",
        "password": "p@ss",
        "host": "db.example",
        "port": "6543",
        "dbname": "other",
        "sslmode": "require",
        "application_name": "ci",
    }
    assert to_sqlalchemy_url(server.url_for("other")).query["sslmode"] == "require"


def test_url_for_a_unix_socket() -> None:
    server = TestServer(conninfo="user=postgres host=/run/pg port=5999 dbname=postgres")
    url = server.url_for("x")
    assert conninfo_to_dict(url) == {
        "user": "postgres",
        "host": "/run/pg",
        "port": "5999",
        "dbname": "x",
    }
    assert to_sqlalchemy_url(url).database == "x"
