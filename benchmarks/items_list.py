"""Listing the whole collection: the repository vs the same SQL through raw psycopg.

10,000 items in 10 categories, in a fresh database on a throwaway embedded
PostgreSQL (tmpfs when there is one). Each run lists every item with its
category:

``repository``
    ``db.items.list(limit=10_000)`` on ``Database`` / ``AsyncDatabase``:
    pooled connection (pre-ping), transaction, statement, attrs ``Item``
    records and the page's cursor.
``raw psycopg``
    the repository's statement compiled to SQL text (literal binds, so it is
    literally the same query) on a psycopg ``Connection`` /
    ``AsyncConnection``: execute, ``fetchall()`` of plain tuples, commit.

Runs alternate between the two; the figure is the median of ``--runs`` runs
(after warm-up) and the ratio repository / raw. Goal: ratio <= 1.3. Also
printed: this process's CPU time per call (steadier than wall time on a busy
machine: the difference is the library's own work), the time to build the
records from the rows with the listing's builder vs ``Item(*row)``, and the
load average. Figures only, no assertion on time.

    python benchmarks/items_list.py [--runs 25] [--items 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from time import perf_counter, process_time
from typing import Any, Final

import attrs
import psycopg
from _common import machine, median_ms, nproc, p90_ms, table
from sqlalchemy import create_engine

from gearbox_db import AsyncDatabase, Database
from gearbox_db._queries import item_pages as q
from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.records import Item
from gearbox_db.testing._server import TestServer, stop_throwaway, throwaway_server

WARMUP: Final = 3
CATEGORIES: Final = 10


def statement_sql(url: str, limit: int) -> str:
    """The SQL text of the repository's listing of ``limit`` items, binds inlined
    (compiled by the dialect the repository uses)."""
    request = q.listing(
        category_id=None,
        search=None,
        sort="name",
        descending=False,
        limit=limit,
        cursor=None,
        include_total=False,
    )
    dialect = create_engine(to_sqlalchemy_url(url)).dialect  # no connection is made
    compiled = q.page(request).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return str(compiled)


def seed(url: str, count: int) -> None:
    """``count`` items spread over ten categories (some without weight or price)."""
    rng = random.Random(3)
    with psycopg.connect(url) as connection:
        ids = [
            row[0]
            for row in connection.execute(
                "INSERT INTO categories (name, icon) SELECT 'Category ' || n, 'icon-' || n "
                "FROM generate_series(1, %s) AS n RETURNING id",
                (CATEGORIES,),
            ).fetchall()
        ]
        columns = "name, category_id, weight_grams, price_cents, quantity, notes, product_url"
        with connection.cursor().copy(f"COPY items ({columns}) FROM STDIN") as copy:
            for n in range(count):
                copy.write_row(
                    (
                        f"Item {rng.randrange(10**6):06d} {n}",
                        ids[n % CATEGORIES],
                        None if n % 17 == 0 else round(rng.uniform(1, 2000), 1),
                        None if n % 13 == 0 else rng.randrange(100, 50_000),
                        1 + n % 3,
                        "a note about this piece of gear" if n % 2 else None,
                        f"https://example.com/gear/{n}",
                    )
                )
        connection.execute("ANALYZE items")


Samples = dict[str, list[float]]


def measure(calls: dict[str, Callable[[], int]], runs: int) -> tuple[Samples, Samples]:
    """Alternate the calls ``runs`` times (after warm-up): wall and client CPU seconds."""
    wall: Samples = {name: [] for name in calls}
    cpu: Samples = {name: [] for name in calls}
    for run in range(WARMUP + runs):
        for name, call in calls.items():
            start, start_cpu = perf_counter(), process_time()
            call()
            if run >= WARMUP:
                wall[name].append(perf_counter() - start)
                cpu[name].append(process_time() - start_cpu)
    return wall, cpu


async def ameasure(
    calls: dict[str, Callable[[], Awaitable[int]]], runs: int
) -> tuple[Samples, Samples]:
    """:func:`measure` for coroutines."""
    wall: Samples = {name: [] for name in calls}
    cpu: Samples = {name: [] for name in calls}
    for run in range(WARMUP + runs):
        for name, call in calls.items():
            start, start_cpu = perf_counter(), process_time()
            await call()
            if run >= WARMUP:
                wall[name].append(perf_counter() - start)
                cpu[name].append(process_time() - start_cpu)
    return wall, cpu


def sync_samples(url: str, sql: str, limit: int, runs: int) -> tuple[Samples, Samples]:
    """Repository vs raw psycopg, sync."""
    db = Database.connect(url)
    raw = psycopg.connect(url)
    try:

        def repository() -> int:
            return len(db.items.list(limit=limit).items)

        def plain() -> int:
            rows = raw.execute(sql).fetchall()
            raw.commit()
            return len(rows)

        return measure({"repository": repository, "raw psycopg": plain}, runs)
    finally:
        raw.close()
        db.close()


async def async_samples(url: str, sql: str, limit: int, runs: int) -> tuple[Samples, Samples]:
    """Repository vs raw psycopg, async."""
    db = AsyncDatabase.connect(url)
    raw = await psycopg.AsyncConnection.connect(url)
    try:

        async def repository() -> int:
            return len((await db.items.list(limit=limit)).items)

        async def plain() -> int:
            cursor = await raw.execute(sql)
            rows = await cursor.fetchall()
            await raw.commit()
            return len(rows)

        return await ameasure({"repository": repository, "raw psycopg": plain}, runs)
    finally:
        await raw.close()
        await db.close()


def check_same_rows(url: str, sql: str, limit: int) -> list[tuple[Any, ...]]:
    """The repository returns exactly what the raw query returns (those rows)."""
    with Database.connect(url) as db, psycopg.connect(url) as raw:
        listed = db.items.list(limit=limit).items
        rows = raw.execute(sql).fetchall()[:limit]
    assert [attrs.astuple(record) for record in listed] == rows
    return rows


def record_building(rows: list[tuple[Any, ...]], runs: int) -> str:
    """Median time to turn the rows into records: the listing's builder vs ``Item(*row)``."""
    samples: Samples = {"records()": [], "Item(*row)": []}
    for _ in range(runs):
        start = perf_counter()
        q.records(rows)
        samples["records()"].append(perf_counter() - start)
        start = perf_counter()
        tuple(Item(*row) for row in rows)
        samples["Item(*row)"].append(perf_counter() - start)
    return ", ".join(f"{name} {median_ms(times):.1f} ms" for name, times in samples.items())


@contextmanager
def database(count: int) -> Iterator[str]:
    """A fresh, migrated database with ``count`` items on a throwaway server."""
    server: TestServer = throwaway_server()
    try:
        with server.database(template=server.make_template()) as url:
            seed(url, count)
            yield url
    finally:
        stop_throwaway(server)


def report(label: str, samples: tuple[Samples, Samples]) -> list[str]:
    """One line of the table: medians (ms), p90s, the ratio, client CPU medians."""
    wall, cpu = samples
    repository, raw = median_ms(wall["repository"]), median_ms(wall["raw psycopg"])
    return [
        label,
        f"{repository:.1f}",
        f"{raw:.1f}",
        f"{repository / raw:.2f}",
        f"{p90_ms(wall['repository']):.1f} / {p90_ms(wall['raw psycopg']):.1f}",
        f"{median_ms(cpu['repository']):.1f} / {median_ms(cpu['raw psycopg']):.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25, help="timed runs of each (>= 15)")
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    print(machine())
    with database(args.items) as url:
        sql = statement_sql(url, args.items)
        building = record_building(check_same_rows(url, sql, args.items), args.runs)
        rows = [
            report("sync", sync_samples(url, sql, args.items, args.runs)),
            report("async", asyncio.run(async_samples(url, sql, args.items, args.runs))),
        ]
    print(f"listing {args.items} items in {CATEGORIES} categories, {args.runs} runs each")
    headers = [
        "api",
        "repo median ms",
        "raw median ms",
        "ratio",
        "p90 repo / raw",
        "cpu repo / raw",
    ]
    print(table(headers, rows))
    print("goal: ratio (of the wall-clock medians) <= 1.3; cpu: this process's CPU time per call")
    print(f"building {args.items} records from the rows: {building}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (CPUs: {nproc()})")


if __name__ == "__main__":
    main()
