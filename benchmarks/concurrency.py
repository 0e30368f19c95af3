"""200 concurrent tasks of mixed operations: the default AsyncDatabase pool vs raw psycopg_pool.

A scratch database on the system PostgreSQL (``--url``), migrated, seeded
with a few rows, dropped afterwards. ``--tasks`` asyncio tasks (200) each run
operations back to back for ``--seconds`` (30), in a fixed mix: of every 10,
``items.get`` x3, ``settings.get`` x2, ``sessions.validate`` x2,
``api_keys.authenticate``, ``items.create``, ``settings.set``:

``library``
    ``AsyncDatabase.connect(url)`` with its default pool settings;
``raw psycopg_pool``
    ``psycopg_pool.AsyncConnectionPool(url)`` with its default settings
    (connections in autocommit), running the same SQL (built by
    ``gearbox_db._queries``, compiled once: see ``overhead.py``).

Printed: operations per second, errors (by class), and the server sessions
opened during the run: the delta of ``pg_stat_database.sessions`` of the
scratch database (PostgreSQL 14+; read 1.5 s after the run, when the
backends have reported their statistics).

    python benchmarks/concurrency.py [--tasks 200] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Final

import psycopg
from _common import (
    SYSTEM_PG_URL,
    closed,
    load_average,
    machine,
    opened,
    scratch_database,
    table,
)
from _world import World
from overhead import CREATE_FIELDS, compiled, statements
from psycopg_pool import AsyncConnectionPool

from gearbox_db import AsyncDatabase, Database
from gearbox_db._queries import settings as qst

MIX: Final = (
    "items.get",
    "settings.get",
    "items.get",
    "sessions.validate",
    "items.create",
    "items.get",
    "settings.get",
    "api_keys.authenticate",
    "sessions.validate",
    "settings.set",
)
SESSIONS: Final = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
Op = Callable[[], Awaitable[Any]]


def library_ops(db: AsyncDatabase, world: World) -> dict[str, Op]:
    """The mix's operations on the library."""
    return {
        "items.get": lambda: db.items.get(world.items[0]),
        "settings.get": lambda: db.settings.get("weightUnit"),
        "sessions.validate": lambda: db.sessions.validate(world.session),
        "api_keys.authenticate": lambda: db.api_keys.authenticate(world.key),
        "items.create": lambda: db.items.create(**CREATE_FIELDS, category_id=world.category),
        "settings.set": lambda: db.settings.set("currency", "EUR"),
    }


def raw_ops(pool: AsyncConnectionPool[Any], world: World) -> dict[str, Op]:
    """The same SQL on connections of a raw psycopg pool."""
    sqls = statements(world, 1)
    sqls["settings.set"] = compiled(qst.upsert("currency", "EUR"))

    def op(sql: tuple[Any, Any]) -> Op:
        async def run() -> Any:
            async with pool.connection() as connection:
                cursor = await connection.execute(*sql)
                return await cursor.fetchall() if cursor.description else None

        return run

    return {name: op(sql) for name, sql in sqls.items() if name in MIX}


async def hammer(ops: dict[str, Op], tasks: int, seconds: float) -> tuple[int, Counter[str]]:
    """``tasks`` tasks running the mix until ``seconds`` have passed: operations, errors."""
    deadline = time.monotonic() + seconds
    errors: Counter[str] = Counter()

    async def worker(n: int) -> int:
        done = 0
        while time.monotonic() < deadline:
            try:
                await ops[MIX[(n + done) % len(MIX)]]()
            except Exception as exc:
                errors[type(exc).__name__] += 1
            done += 1
        return done

    counts = await asyncio.gather(*(worker(n) for n in range(tasks)))
    return sum(counts) - sum(errors.values()), errors


async def sessions(url: str) -> int:
    """Sessions the server has counted for the database (stats flushed meanwhile)."""
    await asyncio.sleep(1.5)  # backends report their statistics at most once a second
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as monitor:
        cursor = await monitor.execute(SESSIONS)
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])  # this monitor's own session included


async def run_library(url: str, world: World, args: Any) -> list[str]:
    """The library's default pool under load."""
    before = await sessions(url)
    db = await opened(AsyncDatabase.connect(url))
    try:
        done, errors = await hammer(library_ops(db, world), args.tasks, args.seconds)
    finally:
        await closed(db)
    opened_now = await sessions(url) - before - 1  # the later monitor's own session
    return row("library (AsyncDatabase defaults)", done, errors, args, opened_now)


async def run_raw(url: str, world: World, args: Any) -> list[str]:
    """A raw psycopg pool (default settings, autocommit connections) under load."""
    before = await sessions(url)
    async with AsyncConnectionPool(url, kwargs={"autocommit": True}, open=False) as pool:
        done, errors = await hammer(raw_ops(pool, world), args.tasks, args.seconds)
        size = f"min_size={pool.min_size}, max_size={pool.max_size}"
    label = f"raw psycopg_pool ({size})"
    return row(label, done, errors, args, await sessions(url) - before - 1)


def row(label: str, done: int, errors: Counter[str], args: Any, new_sessions: int) -> list[str]:
    """One table row."""
    failures = ", ".join(f"{name} {count}" for name, count in errors.items()) or "0"
    return [label, str(done), f"{done / args.seconds:.0f}", failures, str(new_sessions)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=SYSTEM_PG_URL)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    print(machine())
    with scratch_database("gearbox_bench_concurrency", args.url) as url:
        with Database.connect(url) as db:
            world = World(db)
        rows = [asyncio.run(run_library(url, world, args)), asyncio.run(run_raw(url, world, args))]
    print(f"load average: {load_average()}")
    print(f"{args.tasks} tasks, {args.seconds:.0f} s each, mix: {', '.join(MIX)}\n")
    headers = ["pool", "operations", "ops/s", "errors", "server sessions opened"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
