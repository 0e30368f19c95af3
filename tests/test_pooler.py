"""``Database.connect(..., prepared_statements=False)`` through PgBouncer in
transaction mode (Debian's, which predates prepared-statement support and
refuses the ``options`` startup parameter): correct under concurrency,
timestamps in UTC and statement timeouts kept without any session setting."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from gearbox_db import AsyncDatabase, Database
from gearbox_db.errors import NotFoundError, StatementTimeoutError
from tests.pgbouncer import pgbouncer_url

__all__ = ["pgbouncer_url"]  # the fixture, used by name

WORKERS = 8
ROUNDS = 60


@pytest.fixture
def pooled_url(pgbouncer_url: str, gearbox_database_url: str) -> str:
    """The test's own database, reached through PgBouncer."""
    dbname = conninfo_to_dict(gearbox_database_url)["dbname"]
    return f"{pgbouncer_url.rsplit('/', 1)[0]}/{dbname}"


def _work(
    db: Database, worker: int, barrier: threading.Barrier, errors: list[BaseException]
) -> None:
    try:
        category = db.categories.create(name=f"Worker {worker}")
        barrier.wait(timeout=30)
        for n in range(ROUNDS):
            db.settings.set(f"w{worker}", str(n))
            assert db.settings.get(f"w{worker}") == str(n)
            item = db.items.create(name=f"I{n}", category_id=category.id, weight_grams=n)
            assert db.items.get(item.id).weight_grams == n
            with db.transaction() as tx:
                tx.items.update(item.id, quantity=2)
                assert tx.items.get(item.id).quantity == 2
    except BaseException as exc:  # reported by the test
        errors.append(exc)


def test_concurrent_operations_through_pgbouncer_are_correct(pooled_url: str) -> None:
    with Database.connect(pooled_url, pool_size=WORKERS, prepared_statements=False) as db:
        db.settings.set("victim", "still here")
        barrier = threading.Barrier(WORKERS)
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=_work, args=(db, n, barrier, errors)) for n in range(WORKERS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert db.settings.get("victim") == "still here"
        assert db.items.list(limit=1, include_total=True).total == WORKERS * ROUNDS


def test_async_concurrent_operations_through_pgbouncer_are_correct(pooled_url: str) -> None:
    async def task(db: AsyncDatabase, worker: int, start: asyncio.Event) -> None:
        category = await db.categories.create(name=f"Task {worker}")
        await start.wait()
        for n in range(ROUNDS // 2):
            await db.settings.set(f"t{worker}", str(n))
            assert await db.settings.get(f"t{worker}") == str(n)
            item = await db.items.create(name=f"I{n}", category_id=category.id)
            assert (await db.items.get(item.id)).name == f"I{n}"

    async def scenario() -> None:
        async with AsyncDatabase.connect(
            pooled_url, pool_size=WORKERS, prepared_statements=False
        ) as db:
            await db.settings.set("victim", "still here")
            start = asyncio.Event()
            tasks = [asyncio.create_task(task(db, n, start)) for n in range(4 * WORKERS)]
            start.set()
            await asyncio.gather(*tasks)
            assert await db.settings.get("victim") == "still here"

    asyncio.run(scenario())


def test_utc_and_statement_timeout_hold_through_pgbouncer(
    pooled_url: str, gearbox_database_url: str
) -> None:
    """The database's time zone is +05:30 and PgBouncer passes no ``options``:
    records still come back in UTC, and the statement timeout still fires."""
    with psycopg.connect(gearbox_database_url, autocommit=True) as admin:
        name = conninfo_to_dict(gearbox_database_url)["dbname"]
        admin.execute(f"ALTER DATABASE \"{name}\" SET timezone = 'Asia/Kolkata'")
    with Database.connect(pooled_url, prepared_statements=False, statement_timeout=0.3) as db:
        category = db.categories.create(name="Zoned")
        assert category.created_at.utcoffset() == timedelta(0)
        with psycopg.connect(gearbox_database_url) as holder:
            holder.execute("SELECT 1 FROM categories WHERE id = %s FOR UPDATE", (category.id,))
            with pytest.raises(StatementTimeoutError):
                db.categories.update(category.id, name="Renamed")
            holder.rollback()
        assert db.categories.get(category.id).name == "Zoned"
        with pytest.raises(NotFoundError):
            db.items.get(10**9)
