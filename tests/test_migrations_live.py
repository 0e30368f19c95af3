"""Migrations on a live database: CONCURRENTLY builds, replicas waiting, lock timeouts, pg_trgm.

The concurrency tests use real processes and connections; they synchronise on
what PostgreSQL shows (pg_stat_activity), never on sleeps.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, text

from gearbox_db import migrations
from gearbox_db._queries import item_pages
from gearbox_db.errors import MigrationError
from gearbox_db.schema import TRIGRAM_INDEX
from tests.test_migrations import connect, count, execute

CONCURRENT_BUILD = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND query LIKE 'CREATE INDEX CONCURRENTLY%%' AND wait_event_type = 'Lock'"
)
# A migrator waiting for the migration lock: idle (no transaction, no snapshot), its last
# statement the try of the lock (see gearbox_db/migrations/env.py).
WAITING_MIGRATOR = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND state = 'idle' AND query LIKE 'SELECT pg_try_advisory_lock(%%'"
)
INVALID_INDEXES = (
    "SELECT count(*) FROM pg_index AS ix JOIN pg_class AS cls ON cls.oid = ix.indrelid "
    "WHERE cls.relnamespace = current_schema()::regnamespace AND NOT ix.indisvalid"
)


def first_revision() -> str:
    """The revision just before the first one that builds an index CONCURRENTLY."""
    for revision in reversed(migrations.history()):
        if revision.down_revision is not None:
            sql = migrations.upgrade_sql(revision.revision, revision.down_revision)
            if "CREATE INDEX CONCURRENTLY" in sql and "ON items" in sql:
                return revision.down_revision
    raise AssertionError("no revision builds an index on items CONCURRENTLY")


def with_items(url: str) -> None:
    """The revision before the first CONCURRENTLY build, with 200 items in the table."""
    migrations.upgrade(url, first_revision())
    execute(
        url,
        "INSERT INTO items (name, category_id, weight_grams) "
        "SELECT 'item ' || g, (SELECT min(id) FROM categories), g FROM generate_series(1, 200) g",
    )


def wait_until(admin: psycopg.Connection[Any], query: str, at_least: int, *alive: Any) -> None:
    """Poll PostgreSQL until ``query`` counts ``at_least`` (fail if a process exits first)."""
    deadline = time.monotonic() + 120
    while (admin.execute(query).fetchone() or [0])[0] < at_least:
        exited = [p for p in alive if not p.is_alive()]
        assert not exited, f"a migrator exited early: {[p.exitcode for p in exited]}"
        assert time.monotonic() < deadline, f"never reached: {query}"


def _upgrade(url: str, results: Queue[Any], lock_timeout: float) -> None:
    """Process body: upgrade, then report what this replica sees once upgrade returned."""
    try:
        migrations.upgrade(url, lock_timeout=lock_timeout)
        with connect(url) as conn:
            seen = (migrations.current(conn), count(conn, INVALID_INDEXES))
        results.put(("ok", seen))
    except BaseException as exc:
        results.put(("error", f"{type(exc).__name__}: {exc}"))
        raise


@contextmanager
def replicas(url: str, n: int) -> Iterator[tuple[Callable[[], BaseProcess], Queue[Any]]]:
    context = multiprocessing.get_context("spawn")
    results: Queue[Any] = context.Queue()
    started: list[BaseProcess] = []

    def start() -> BaseProcess:
        process = context.Process(target=_upgrade, args=(url, results, 300.0), daemon=True)
        process.start()
        started.append(process)
        return process

    try:
        yield start, results
    finally:
        for process in started:
            process.join(timeout=180)
            if process.is_alive():
                process.terminate()
                process.join()


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(2))
def test_an_upgrade_waits_for_the_concurrent_build_of_another_replica(
    gearbox_empty_database_url: str, attempt: int
) -> None:
    url = gearbox_empty_database_url
    with_items(url)
    with psycopg.connect(url) as writer, psycopg.connect(url, autocommit=True) as admin:
        # A writer in the middle of a transaction: a CONCURRENTLY build waits for it.
        writer.execute("LOCK TABLE items IN ROW EXCLUSIVE MODE")
        with replicas(url, 2) as (start, results):
            first = start()
            wait_until(admin, CONCURRENT_BUILD, 1, first)  # replica 1 builds, blocked
            second = start()
            wait_until(admin, WAITING_MIGRATOR, 1, first, second)  # replica 2 waits for it
            assert migrations.current(url) == (first_revision(),)
            writer.rollback()  # the writer finishes: the build goes on, then replica 2
            outcomes = [results.get(timeout=180) for _ in range(2)]
        assert [first.exitcode, second.exitcode] == [0, 0], outcomes
    # each replica returned only once the schema was at head, every index valid
    assert outcomes == [("ok", ((migrations.head(),), 0))] * 2
    assert migrations.check(url) == []


@pytest.mark.slow
def test_a_build_stopped_by_the_lock_timeout_is_rolled_back_and_redone(
    gearbox_empty_database_url: str,
) -> None:
    url = gearbox_empty_database_url
    with_items(url)
    with psycopg.connect(url) as writer:
        writer.execute("LOCK TABLE items IN ROW EXCLUSIVE MODE")
        with pytest.raises(MigrationError, match=r"gave up after lock_timeout=0\.2s") as caught:
            migrations.upgrade(url, lock_timeout=0.2)
        assert caught.value.sqlstate == "55P03"
        writer.rollback()
    # the revision did not complete: still at the older one, an invalid index left behind
    assert migrations.current(url) == (first_revision(),)
    migrations.upgrade(url)  # drops the invalid leftover and builds it again
    assert migrations.current(url) == (migrations.head(),)
    assert migrations.check(url) == []
    with connect(url) as conn:
        assert count(conn, INVALID_INDEXES) == 0


# ---------------------------------------------------------------------------
# pg_trgm: available or not
# ---------------------------------------------------------------------------


def trigram_index(conn: Connection) -> str | None:
    query = "SELECT pg_get_indexdef(to_regclass(:name))"
    value: str | None = conn.execute(text(query), {"name": TRIGRAM_INDEX}).scalar_one()
    return value


def test_without_pg_trgm_the_index_is_skipped_with_a_warning_and_search_still_works(
    gearbox_empty_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A user who may not create extensions (no CREATE on the database, not superuser)."""
    url = gearbox_empty_database_url
    role = f"gearbox_no_ext_{uuid.uuid4().hex[:8]}"
    execute(
        url,
        f"CREATE ROLE {role} NOLOGIN",
        f"GRANT CREATE, USAGE ON SCHEMA public TO {role}",  # but not CREATE on the database
    )
    try:
        with connect(url) as conn:
            conn.execute(text(f"SET ROLE {role}"))
            conn.commit()
            with caplog.at_level(logging.WARNING, logger="gearbox_db.migrations"):
                migrations.upgrade(conn)
            assert migrations.current(conn) == (migrations.head(),)
            assert migrations.check(conn) == []
            assert trigram_index(conn) is None
            assert any("pg_trgm is not available" in r.getMessage() for r in caplog.records)
            assert _search(conn, "TENT") == ["big tent", "Tent pole"]
            conn.execute(text("RESET ROLE"))
            conn.commit()
    finally:
        execute(url, f"DROP OWNED BY {role}", f"DROP ROLE {role}")


def test_with_pg_trgm_search_reads_the_trigram_index(gearbox_empty_database_url: str) -> None:
    url = gearbox_empty_database_url
    with connect(url) as conn:
        available = conn.execute(
            text("SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_trgm')")
        ).scalar_one()
    if not available:
        pytest.skip("this PostgreSQL does not ship pg_trgm (the test above covers it)")
    migrations.upgrade(url)
    with connect(url) as conn:
        assert trigram_index(conn) is not None
        assert _search(conn, "TENT") == ["big tent", "Tent pole"]
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = conn.execute(
            text("EXPLAIN SELECT id FROM items WHERE lower(name) LIKE lower('%tent%')")
        ).scalars()
        assert TRIGRAM_INDEX in "\n".join(plan)


def _search(conn: Connection, term: str) -> list[str]:
    """Names the items listing finds for ``term`` (on a few rows of its own, rolled back)."""
    conn.execute(
        text(
            "INSERT INTO items (name, category_id) SELECT n, (SELECT min(id) FROM categories) "
            "FROM unnest(ARRAY['big tent', 'Tent pole', 'tarp', 'ten t']) n"
        )
    )
    request = item_pages.listing(
        category_id=None,
        search=term,
        sort="name",
        descending=False,
        limit=10,
        cursor=None,
        include_total=False,
    )
    names = [row.name for row in conn.execute(item_pages.page(request))]
    conn.rollback()
    return names
