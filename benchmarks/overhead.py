"""The library's overhead: a repository call vs raw psycopg running the same SQL (issue 9).

A scratch database on the system PostgreSQL (``--url``), migrated to head,
seeded with ``--items`` items (and a user, a session, an API key, a setting),
dropped afterwards. In one process, for ``items.get``, ``items.create``,
``settings.get``, ``sessions.validate``, ``api_keys.authenticate`` and listing
``--items`` items, sync (``Database``) and async (``AsyncDatabase``):

``repository``
    the call on a database whose pool is already open (default settings);
``raw psycopg``
    the same SQL on one open autocommit psycopg connection with prepared
    statements on (default ``prepare_threshold``): the statement the
    ``gearbox_db._queries`` builder returns, compiled once by SQLAlchemy's
    psycopg dialect (pyformat parameters), or its ``.sql`` / ``.params`` when
    the builder returns a precompiled form; executed, rows fetched, no records.

Before timing, one call of each side goes through ``tests/wire.py``'s proxy,
which counts its round trips (sync API) and checks that the statement the
raw side sends is among those the repository sends (a warning otherwise).
Repository and raw calls alternate, call by call (the order swapped every
run), ``--runs`` times after a warm-up; printed: medians (ms), the ratio
repository / raw (goal <= 1.3), this process's CPU time per call.
``--delay-ms 0.5`` puts both sides behind a proxy (in a process of its own)
that holds each chunk 0.5 ms each way (goal there <= 1.15).

    python benchmarks/overhead.py [--runs 2000] [--list-runs 30] [--delay-ms 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
from collections.abc import Awaitable, Callable
from datetime import timedelta
from time import perf_counter, process_time
from typing import Any, Final

import psycopg
from _common import (
    SYSTEM_PG_URL,
    closed,
    load_average,
    machine,
    median_ms,
    opened,
    proxied,
    scratch_database,
    table,
)
from _world import World
from items_list import seed as seed_items
from sqlalchemy import create_engine
from tests.wire import RoundTripProxy

from gearbox_db import AsyncDatabase, Database
from gearbox_db._queries import api_keys as qk
from gearbox_db._queries import item_pages as pages
from gearbox_db._queries import items as qi
from gearbox_db._queries import sessions as qs
from gearbox_db._queries import settings as qst

WARMUP: Final = 20
LIST: Final = "items.list (all)"
DIALECT: Final = create_engine("postgresql+psycopg://").dialect  # makes no connection
Sql = tuple[Any, Any]  # SQL (text or psycopg.sql) and its parameters (mapping or sequence)
Samples = dict[str, list[float]]


def compiled(statement: Any) -> Sql:
    """SQL text and parameters of a builder's statement, as the repository sends them."""
    if hasattr(statement, "sql") and hasattr(statement, "params"):  # the precompiled form
        return statement.sql, statement.params
    done = statement.compile(dialect=DIALECT)
    return str(done), dict(done.params)


def statements(world: World, count: int) -> dict[str, Sql]:
    """The SQL of each operation, built by the library's own builders (no I/O)."""
    listing = pages.listing(
        category_id=None,
        search=None,
        sort="name",
        descending=False,
        limit=count,
        cursor=None,
        include_total=False,
    )
    validate = qs.validate(
        world.session,
        None,
        renew_to=None,
        renew_every=timedelta(hours=1),
        max_lifetime=timedelta(days=90),
    )
    return {
        "items.get": compiled(qi.get(world.items[0])),
        "items.create": compiled(qi.create(**CREATE_FIELDS, category_id=world.category)),
        "settings.get": compiled(qst.get("weightUnit")),
        "sessions.validate": compiled(validate),
        "api_keys.authenticate": compiled(qk.authenticate(world.key, None, timedelta(minutes=5))),
        LIST: compiled(pages.bound(listing)),
    }


CREATE_FIELDS: Final[dict[str, Any]] = {
    "name": "Tent",
    "weight_grams": 1020.5,
    "price_cents": 34900,
    "quantity": 1,
    "notes": None,
    "product_url": None,
    "image_filename": None,
    "image_source_url": None,
}


def repository_calls(db: Any, world: World, count: int) -> dict[str, Callable[[], Any]]:
    """The repository side (sync or async: the calls return coroutines on the async one)."""
    return {
        "items.get": lambda: db.items.get(world.items[0]),
        "items.create": lambda: db.items.create(**CREATE_FIELDS, category_id=world.category),
        "settings.get": lambda: db.settings.get("weightUnit"),
        "sessions.validate": lambda: db.sessions.validate(world.session),
        "api_keys.authenticate": lambda: db.api_keys.authenticate(world.key),
        LIST: lambda: db.items.list(limit=count),
    }


def raw_calls(connection: psycopg.Connection[Any], sqls: dict[str, Sql]) -> dict[str, Any]:
    """The raw side, sync: execute and fetch."""

    def call(sql: Sql) -> Callable[[], Any]:
        return lambda: connection.execute(*sql).fetchall()

    return {name: call(sql) for name, sql in sqls.items()}


def araw_calls(connection: psycopg.AsyncConnection[Any], sqls: dict[str, Sql]) -> dict[str, Any]:
    """The raw side, async."""

    def call(sql: Sql) -> Callable[[], Awaitable[Any]]:
        async def run() -> Any:
            return await (await connection.execute(*sql)).fetchall()

        return run

    return {name: call(sql) for name, sql in sqls.items()}


async def timed(call: Callable[[], Any]) -> tuple[float, float]:
    """Wall and CPU seconds of one call (awaited when it returns an awaitable)."""
    start, start_cpu = perf_counter(), process_time()
    result = call()
    if inspect.isawaitable(result):
        await result
    return perf_counter() - start, process_time() - start_cpu


async def measure(
    repository: dict[str, Callable[[], Any]], raw: dict[str, Callable[[], Any]], runs: int
) -> tuple[Samples, Samples]:
    """Interleave repository and raw calls of each operation: wall and CPU samples."""
    wall: Samples = {}
    cpu: Samples = {}
    for name in repository:
        n = runs if name != LIST else max(5, runs // 60)
        sides = [("repository", repository[name]), ("raw", raw[name])]
        for run in range(WARMUP + n):
            for side, call in sides if run % 2 else sides[::-1]:
                spent, spent_cpu = await timed(call)
                if run >= WARMUP:
                    wall.setdefault(f"{name}|{side}", []).append(spent)
                    cpu.setdefault(f"{name}|{side}", []).append(spent_cpu)
    return wall, cpu


async def sync_side(url: str, world: World, sqls: dict[str, Sql], args: Any) -> Any:
    """Repository vs raw psycopg, sync."""
    db = await opened(Database.connect(url))
    with psycopg.connect(url, autocommit=True) as connection:
        try:
            repository = repository_calls(db, world, args.items)
            return await measure(repository, raw_calls(connection, sqls), args.runs)
        finally:
            await closed(db)


async def async_side(url: str, world: World, sqls: dict[str, Sql], args: Any) -> Any:
    """Repository vs raw psycopg, async."""
    db = await opened(AsyncDatabase.connect(url))
    connection = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        repository = repository_calls(db, world, args.items)
        return await measure(repository, araw_calls(connection, sqls), args.runs)
    finally:
        await connection.close()
        await closed(db)


def on_the_wire(url: str, world: World, sqls: dict[str, Sql], count: int) -> dict[str, str]:
    """Through a counting proxy, one call of each side (after a warm-up):
    ``"<repository round trips> / <raw round trips>"`` per operation; and a
    warning when the raw statement is not among those the repository sent."""
    found = {}
    with RoundTripProxy(url) as proxy, psycopg.connect(proxy.url, autocommit=True) as raw:
        db = Database.connect(proxy.url)
        try:
            repository, plain = repository_calls(db, world, count), raw_calls(raw, sqls)
            for name in repository:
                repository[name]()  # a warm-up: the first connection initialises itself
                sent, trips = [], []
                for call in (repository[name], plain[name]):
                    proxy.reset()
                    call()
                    sent.append(list(proxy.statements))
                    trips.append(proxy.round_trips)
                if not set(sent[1]) <= set(sent[0]):
                    print(f"WARNING {name}: the repository sent {sent[0]}, raw {sent[1]}")
                found[name] = f"{trips[0]} / {trips[1]}"
        finally:
            db.close()
    return found


def report(api: str, samples: tuple[Samples, Samples], trips: dict[str, str]) -> list[list[str]]:
    """Table rows: medians, ratio, CPU medians."""
    wall, cpu = samples
    rows = []
    for key in wall:
        name, side = key.split("|")
        if side != "repository":
            continue
        repo, raw = median_ms(wall[key]), median_ms(wall[f"{name}|raw"])
        cpu_repo, cpu_raw = median_ms(cpu[key]), median_ms(cpu[f"{name}|raw"])
        rows.append(
            [api, name, str(len(wall[key])), f"{repo:.3f}", f"{raw:.3f}", f"{repo / raw:.2f}",
             f"{cpu_repo:.3f} / {cpu_raw:.3f}", trips[name]]
        )  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=SYSTEM_PG_URL)
    parser.add_argument("--runs", type=int, default=2000, help="timed calls per single-row op")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="proxy delay each way")
    args = parser.parse_args()
    print(machine())
    with scratch_database("gearbox_bench_overhead", args.url) as url:
        seed_items(url, args.items)
        with Database.connect(url) as db:
            world = World(db)
        sqls = statements(world, args.items)
        trips = on_the_wire(url, world, sqls, args.items)
        with proxied(url, args.delay_ms / 1000) as target:
            rows = report("sync", asyncio.run(sync_side(target, world, sqls, args)), trips)
            rows += report("async", asyncio.run(async_side(target, world, sqls, args)), trips)
    print(f"load average: {load_average()}")
    where = f"through a proxy adding {args.delay_ms} ms each way" if args.delay_ms else "direct"
    print(f"{where}; list: {args.items} items\n")
    headers = ["api", "operation", "runs", "repo ms", "raw ms", "ratio", "cpu ms repo / raw"]
    headers.append("round trips repo / raw (sync)")
    print(table(headers, rows))
    goal = 1.15 if args.delay_ms else 1.3
    print(f"\ngoal: ratio (of the wall-clock medians) <= {goal}")


if __name__ == "__main__":
    main()
