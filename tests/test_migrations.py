"""The shipped migrations and the ``gearbox_db.migrations`` API, on real PostgreSQL."""

from __future__ import annotations

import itertools
import multiprocessing
import queue
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, Index, Table, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from gearbox_db import migrations
from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.errors import UnavailableError
from gearbox_db.schema import UNCATEGORIZED, metadata
from gearbox_db.testing import isolated
from tests.category_totals import maintained as maintained_totals
from tests.category_totals import recount as recount_totals

OUR_TABLES = frozenset(metadata.tables)
VERSION_TABLE = "gearbox_db_version"


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    """A connection of our own to ``url`` (closed, without committing, afterwards)."""
    engine = create_engine(to_sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    """Run ``statements`` on ``url`` in one committed transaction."""
    with connect(url) as conn:
        for statement in statements:
            conn.execute(text(statement))
        conn.commit()


def catalog(conn: Connection) -> dict[str, set[Any]]:
    """What lives in the current schema: tables, columns, constraints, indexes, ..."""
    queries = {
        "tables": "SELECT relname FROM pg_class "
        "WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p', 'v', 'm')",
        "sequences": "SELECT relname FROM pg_class "
        "WHERE relnamespace = current_schema()::regnamespace AND relkind = 'S'",
        "indexes": "SELECT indexrelid::regclass::text || ' ' || pg_get_indexdef(indexrelid) "
        "FROM pg_index AS ix JOIN pg_class AS cls ON cls.oid = ix.indrelid "
        "WHERE cls.relnamespace = current_schema()::regnamespace",
        "columns": "SELECT cls.relname || '.' || att.attname || ' ' || "
        "format_type(att.atttypid, att.atttypmod) || ' ' || att.attnotnull::text || ' ' || "
        "att.attidentity::text || ' ' || coalesce(pg_get_expr(dflt.adbin, dflt.adrelid), '-') "
        "FROM pg_attribute AS att JOIN pg_class AS cls ON cls.oid = att.attrelid "
        "LEFT JOIN pg_attrdef AS dflt "
        "ON dflt.adrelid = att.attrelid AND dflt.adnum = att.attnum "
        "WHERE cls.relnamespace = current_schema()::regnamespace AND cls.relkind = 'r' "
        "AND att.attnum > 0 AND NOT att.attisdropped",
        "constraints": "SELECT conrelid::regclass::text || ' ' || conname || ' ' || "
        "pg_get_constraintdef(oid) FROM pg_constraint "
        # PostgreSQL >= 18 also lists NOT NULL as constraints ('n'): compared as columns.
        "WHERE connamespace = current_schema()::regnamespace AND contype <> 'n'",
        "functions": "SELECT oid::regprocedure::text || ' ' || md5(prosrc) FROM pg_proc "
        "WHERE pronamespace = current_schema()::regnamespace",
        "triggers": "SELECT tgrelid::regclass::text || ' ' || pg_get_triggerdef(trg.oid) "
        "FROM pg_trigger AS trg JOIN pg_class AS cls ON cls.oid = trg.tgrelid "
        "WHERE NOT trg.tgisinternal AND cls.relnamespace = current_schema()::regnamespace",
        "types": "SELECT typname FROM pg_type WHERE typnamespace = current_schema()::regnamespace "
        "AND typrelid = 0 AND typcategory <> 'A'",
    }
    return {name: set(conn.execute(text(sql)).scalars()) for name, sql in queries.items()}


def count(conn: Connection, sql: str, **params: Any) -> int:
    value: int = conn.execute(text(sql), params).scalar_one()
    return value


def uncategorized_count(conn: Connection) -> int:
    return count(conn, "SELECT count(*) FROM categories WHERE name = :name", name=UNCATEGORIZED)


# ---------------------------------------------------------------------------
# Round trip and version table
# ---------------------------------------------------------------------------


def test_upgrade_downgrade_upgrade_round_trip(gearbox_empty_database_url: str) -> None:
    url = gearbox_empty_database_url
    assert migrations.current(url) == ()
    migrations.upgrade(url)
    assert migrations.current(url) == (migrations.head(),)
    with connect(url) as conn:
        first = catalog(conn)
        assert uncategorized_count(conn) == 1
    assert OUR_TABLES | {VERSION_TABLE} == first["tables"]
    assert first["triggers"]  # the updated_at triggers and their function are ours too
    assert first["functions"]

    migrations.downgrade(url, "base")
    assert migrations.current(url) == ()
    with connect(url) as conn:
        after_downgrade = catalog(conn)
        assert count(conn, "SELECT count(*) FROM gearbox_db_version") == 0
    assert after_downgrade == {
        "tables": {VERSION_TABLE},
        "sequences": set(),
        "indexes": {
            f"{VERSION_TABLE}_pkc CREATE UNIQUE INDEX {VERSION_TABLE}_pkc "
            f"ON public.{VERSION_TABLE} USING btree (version_num)"
        },
        "columns": {f"{VERSION_TABLE}.version_num character varying(32) true  -"},
        "constraints": {f"{VERSION_TABLE} {VERSION_TABLE}_pkc PRIMARY KEY (version_num)"},
        "functions": set(),
        "triggers": set(),
        "types": set(),
    }

    migrations.upgrade(url)
    assert migrations.current(url) == (migrations.head(),)
    assert migrations.check(url) == []
    with connect(url) as conn:
        assert catalog(conn) == first
        assert uncategorized_count(conn) == 1


def test_each_revision_downgrades_to_exactly_its_predecessor(
    gearbox_empty_database_url: str,
) -> None:
    """Step by step, whatever the number of revisions: downgrading a revision gives
    back exactly the schema of the one before."""
    url = gearbox_empty_database_url
    chain = [rev.revision for rev in reversed(migrations.history())]
    for previous, revision in itertools.pairwise(chain):
        migrations.upgrade(url, previous)
        with connect(url) as conn:
            before = catalog(conn)
        migrations.upgrade(url, revision)
        migrations.downgrade(url, previous)
        with connect(url) as conn:
            assert catalog(conn) == before, revision
        migrations.upgrade(url, revision)
    assert migrations.check(url) == []


def test_0002_gives_existing_tokens_and_keys_their_absolute_ends(
    gearbox_empty_database_url: str,
) -> None:
    url = gearbox_empty_database_url
    migrations.upgrade(url, "0001")
    execute(
        url,
        "INSERT INTO users (id, username, password_hash) VALUES (1, 'u', 'x')",
        "INSERT INTO oauth_clients (client_id) VALUES ('c')",
        "INSERT INTO api_keys (user_id, name, key_hash, key_prefix) "
        "VALUES (1, 'k', repeat('ab', 32), 'gb_abcde')",
        "INSERT INTO oauth_tokens (id, access_token_hash, client_id, user_id, expires_at, "
        "family_id) VALUES (1, repeat('ab', 32), 'c', 1, now(), 1)",
    )
    migrations.upgrade(url, "0002")
    with connect(url) as conn:
        days = conn.execute(
            text(
                "SELECT extract(day FROM api_keys.expires_at - now())::int, "
                "extract(day FROM oauth_tokens.family_expires_at - now())::int, "
                "oauth_tokens.code_hash FROM api_keys, oauth_tokens"
            )
        ).one()
    # from the upgrade's now(), a moment before this transaction's
    assert tuple(days) in {(365, 90, None), (364, 89, None)}


def test_version_table_is_gearbox_db_version(gearbox_connection: Connection) -> None:
    conn = gearbox_connection
    assert conn.execute(text("SELECT to_regclass('alembic_version')")).scalar_one() is None
    versions = conn.execute(text("SELECT version_num FROM gearbox_db_version")).scalars()
    assert list(versions) == [migrations.head()]
    assert migrations.VERSION_TABLE == VERSION_TABLE


def test_uncategorized_exists_exactly_once_after_upgrade(gearbox_connection: Connection) -> None:
    assert uncategorized_count(gearbox_connection) == 1


def test_host_service_tables_are_left_alone(gearbox_empty_database_url: str) -> None:
    """A service keeping its own Alembic history in the same database does not collide."""
    url = gearbox_empty_database_url
    execute(
        url,
        "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)",
        "INSERT INTO alembic_version VALUES ('hostrev0042')",
        "CREATE TABLE host_orders (id serial PRIMARY KEY, note text NOT NULL)",
        "CREATE INDEX host_orders_note ON host_orders (note)",
        "INSERT INTO host_orders (note) VALUES ('keep me')",
    )
    with connect(url) as conn:
        host_before = catalog(conn)

    def host_state() -> tuple[list[Any], list[Any]]:
        with connect(url) as conn:
            return (
                list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars()),
                [tuple(r) for r in conn.execute(text("SELECT id, note FROM host_orders"))],
            )

    expected_host_state = (["hostrev0042"], [(1, "keep me")])
    migrations.upgrade(url)
    assert migrations.current(url) == (migrations.head(),)
    assert host_state() == expected_host_state
    assert migrations.check(url) == []  # the host's tables are not reported as extra

    migrations.downgrade(url, "base")
    assert migrations.current(url) == ()
    assert host_state() == expected_host_state
    with connect(url) as conn:
        after = catalog(conn)
    # only our (empty) version table is left beside the host's untouched objects
    assert after["tables"] == host_before["tables"] | {VERSION_TABLE}
    for kind in ("sequences", "functions", "triggers", "types"):
        assert after[kind] == host_before[kind], kind


# ---------------------------------------------------------------------------
# check()
# ---------------------------------------------------------------------------


def test_migrated_schema_equals_the_metadata(gearbox_database_url: str) -> None:
    assert migrations.check(gearbox_database_url) == []


def _describe(diff: Any) -> tuple[str, str]:
    """An Alembic diff directive as (operation, object name)."""
    operation, *rest = diff
    obj = rest[-1]
    if isinstance(obj, Table):
        return operation, obj.name
    if isinstance(obj, Index):
        return operation, f"{obj.table.name if obj.table is not None else '?'}.{obj.name}"
    return operation, f"{rest[1]}.{obj.name}"  # (op, schema, table, column)


@pytest.mark.parametrize(
    ("ddl", "expected"),
    [
        ("ALTER TABLE items ADD COLUMN colour text", ("remove_column", "items.colour")),
        ("DROP INDEX ix_threads_category_id", ("add_index", "threads.ix_threads_category_id")),
        ("DROP TABLE settings", ("add_table", "settings")),
    ],
    ids=["extra column", "dropped index", "missing table"],
)
def test_check_reports_a_difference(
    gearbox_connection: Connection, ddl: str, expected: tuple[str, str]
) -> None:
    with isolated(gearbox_connection) as conn:  # the DDL is rolled back afterwards
        assert migrations.check(conn) == []
        conn.execute(text(ddl))
        assert [_describe(diff) for diff in migrations.check(conn)] == [expected]


# ---------------------------------------------------------------------------
# upgrade() on a Connection the caller owns
# ---------------------------------------------------------------------------


def test_upgrade_runs_in_the_callers_transaction(gearbox_empty_database_url: str) -> None:
    url = gearbox_empty_database_url
    with connect(url) as conn:
        transaction = conn.begin()
        migrations.upgrade(conn)
        assert transaction.is_active  # not committed behind the caller's back
        assert migrations.current(conn) == (migrations.head(),)
        assert uncategorized_count(conn) == 1
        transaction.rollback()
        assert migrations.current(conn) == ()
    assert migrations.current(url) == ()
    with connect(url) as conn:
        assert catalog(conn)["tables"] == set()

    # and when the caller commits, it stays
    with connect(url) as conn, conn.begin():
        migrations.upgrade(conn)
    assert migrations.current(url) == (migrations.head(),)


def test_upgrade_on_an_idle_connection_commits_its_own_transaction(
    gearbox_empty_database_url: str,
) -> None:
    url = gearbox_empty_database_url
    with connect(url) as conn:
        migrations.upgrade(conn)
        assert not conn.in_transaction()
    assert migrations.current(url) == (migrations.head(),)
    with connect(url) as conn:
        assert uncategorized_count(conn) == 1


# ---------------------------------------------------------------------------
# Concurrent upgrades from several processes
# ---------------------------------------------------------------------------


def _upgrade_after_barrier(url: str, barrier: Barrier, errors: Queue[str]) -> None:
    """Process body: wait for every sibling, then upgrade at (nearly) the same instant."""
    barrier.wait(timeout=120)
    try:
        migrations.upgrade(url)
    except BaseException as exc:
        errors.put(f"{type(exc).__name__}: {exc}")
        raise


@pytest.mark.slow
def test_concurrent_upgrades_from_three_processes(gearbox_empty_database_url: str) -> None:
    url = gearbox_empty_database_url
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    errors: Queue[str] = context.Queue()
    processes = [
        context.Process(target=_upgrade_after_barrier, args=(url, barrier, errors), daemon=True)
        for _ in range(3)
    ]
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join(timeout=180)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join()
    messages = []
    while True:
        try:
            messages.append(errors.get(timeout=0.1))
        except queue.Empty:
            break
    assert messages == []
    assert [process.exitcode for process in processes] == [0, 0, 0]
    assert migrations.current(url) == (migrations.head(),)
    assert migrations.check(url) == []
    with connect(url) as conn:
        assert uncategorized_count(conn) == 1
        assert count(conn, "SELECT count(*) FROM gearbox_db_version") == 1


# ---------------------------------------------------------------------------
# Without a (reachable) database
# ---------------------------------------------------------------------------

UNREACHABLE = "postgresql://gearbox:s3cret-pw@127.0.0.1:1/gearbox"

OPERATIONS: list[tuple[str, Callable[[str], object]]] = [
    ("upgrade", migrations.upgrade),
    ("downgrade", lambda url: migrations.downgrade(url, "base")),
    ("current", migrations.current),
    ("check", migrations.check),
]


@pytest.mark.parametrize(("name", "operation"), OPERATIONS, ids=[n for n, _ in OPERATIONS])
def test_unreachable_database_raises_unavailable(
    name: str, operation: Callable[[str], object]
) -> None:
    with pytest.raises(UnavailableError) as info:
        operation(UNREACHABLE)
    cause = info.value.__cause__
    assert cause is not None
    # the driver's error is chained (through SQLAlchemy's wrapper, which keeps it as .orig)
    driver_error = cause.orig if isinstance(cause, DBAPIError) else cause
    assert isinstance(driver_error, psycopg.OperationalError)
    assert "s3cret-pw" not in str(info.value)


def test_history_and_head_need_no_database() -> None:
    history = migrations.history()
    head = migrations.head()
    assert history[0].revision == head
    assert [rev.is_head for rev in history] == [True] + [False] * (len(history) - 1)
    # a linear chain from head down to the first revision
    for newer, older in itertools.pairwise(history):
        assert newer.down_revision == older.revision
    assert history[-1].revision == "0001"
    assert history[-1].down_revision is None
    assert history[-1].message.startswith("Initial schema")


def test_0004_backfills_category_totals_and_downgrades_cleanly(
    gearbox_empty_database_url: str,
) -> None:
    """Items written before 0004 are counted by its backfill; the downgrade removes
    the table, its triggers and functions and leaves the items alone."""
    url = gearbox_empty_database_url
    migrations.upgrade(url, "0003")
    execute(
        url,
        "INSERT INTO categories (name) VALUES ('Shelter'), ('Kitchen')",
        "INSERT INTO items (name, category_id, weight_grams, price_cents, quantity) "
        "SELECT 'item ' || n, c.id, (ARRAY[0.1, 12.3, NULL, 1e308])[n % 4 + 1], n, n % 3 + 1 "
        "FROM categories c, generate_series(1, 40) n WHERE c.name <> 'Uncategorized'",
    )
    migrations.upgrade(url, "0004")
    with connect(url) as conn:
        counted = recount_totals(conn)
        assert len(counted) == 2
        assert maintained_totals(conn) == counted
    migrations.downgrade(url, "0003")
    with connect(url) as conn:
        assert count(conn, "SELECT count(*) FROM items") == 80
        assert (
            count(conn, "SELECT count(*) FROM pg_proc WHERE proname LIKE '%category_totals%'") == 0
        )
        assert conn.execute(text("SELECT to_regclass('category_totals')")).scalar() is None
    migrations.upgrade(url)
    with connect(url) as conn:
        assert maintained_totals(conn) == counted
