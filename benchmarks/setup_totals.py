"""Totals of 1,000 setups x 20 entries in one call: median ms of ``setups.list()``.

A fresh database on a throwaway embedded PostgreSQL 16 (tmpfs when there is
one, as the test plugin starts it), filled with 2,000 items in 10 categories
(1 in 10 without weight, 1 in 5 without price, quantities 1-4) and
``--setups`` setups of ``--entries`` entries each (distinct random items,
random classifications), then ``VACUUM ANALYZE``.

Timed, ``--runs`` times each after a warm-up, the callers taking turns run
by run so a load that comes and goes weighs on each alike:

``sync list()``
    ``Database.setups.list()``: every setup with its totals, one query,
    mapped to ``SetupSummary`` records.
``async list()``
    The same through ``AsyncDatabase``.
``raw psycopg``
    The same SQL (compiled once, literal values) through a plain psycopg
    connection, rows fetched as tuples: the floor for the query itself.
``sync get(1)``, ``sync totals(1)``
    One setup: entries with totals and breakdown / totals with breakdown.

Figures only, no assertion on time.

    python benchmarks/setup_totals.py [--runs 25] [--setups 1000] [--entries 20]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
from collections.abc import Callable
from time import perf_counter
from typing import Final

import psycopg
from _common import machine, median_ms, p90_ms, table, where

from gearbox_db import AsyncDatabase, Database
from gearbox_db._queries import setups as setup_queries
from gearbox_db._queries._compiled import DIALECT
from gearbox_db.testing._server import TestServer, stop_throwaway, throwaway_server

CATEGORIES: Final = 10
ITEMS: Final = 2_000
WARMUP: Final = 3
CLASSIFICATIONS: Final = ("base", "base", "base", "worn", "consumable")


def populate(url: str, setups: int, entries: int, seed: int = 1) -> None:
    """Fill the database with COPY (categories, items, setups, setup_items)."""
    rng = random.Random(seed)
    with psycopg.connect(url) as connection:
        category_ids = [
            row[0]
            for row in connection.execute(
                "INSERT INTO categories (name) SELECT 'Category ' || n "
                "FROM generate_series(1, %s) AS n RETURNING id",
                (CATEGORIES,),
            )
        ]
        with connection.cursor().copy(
            "COPY items (id, name, category_id, weight_grams, price_cents, quantity) FROM STDIN"
        ) as copy:
            for n in range(1, ITEMS + 1):
                weight = None if n % 10 == 0 else round(rng.uniform(1, 2000), 2)
                price = None if n % 5 == 0 else rng.randrange(100, 50_000)
                copy.write_row(
                    (n, f"Item {n}", category_ids[n % CATEGORIES], weight, price, rng.randint(1, 4))
                )
        with connection.cursor().copy("COPY setups (id, name) FROM STDIN") as copy:
            for n in range(1, setups + 1):
                copy.write_row((n, f"Setup {n:05d}"))
        with connection.cursor().copy(
            "COPY setup_items (setup_id, item_id, classification) FROM STDIN"
        ) as copy:
            for setup_id in range(1, setups + 1):
                for item_id in rng.sample(range(1, ITEMS + 1), entries):
                    copy.write_row((setup_id, item_id, rng.choice(CLASSIFICATIONS)))
        for table_name in ("items", "setups", "setup_items"):
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table_name}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table_name}))"
            )
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def _timed(call: Callable[[], object]) -> float:
    t0 = perf_counter()
    call()
    return perf_counter() - t0


def _sanity_check(db: Database, setups: int) -> None:
    """The listing has every setup, and its figures agree with ``totals()``."""
    listed = db.setups.list(limit=1000).setups
    if len(listed) != setups:
        raise SystemExit(f"expected {setups} setups, listed {len(listed)}")
    for summary in listed[:5]:
        full = db.setups.totals(summary.setup.id)
        same = (summary.totals.cost_cents, summary.totals.unit_count) == (
            full.cost_cents,
            full.unit_count,
        )
        if not same or not math.isclose(summary.totals.total_grams, full.total_grams):
            raise SystemExit(f"list() and totals() disagree: {summary.totals} vs {full}")


def measure(url: str, runs: int, setups: int) -> dict[str, list[float]]:
    """Samples (seconds) of each caller, taking turns run by run."""
    samples: dict[str, list[float]] = {}
    loop = asyncio.new_event_loop()
    db = Database.connect(url)
    statement = setup_queries.list_summaries()
    sql = str(statement.compile(dialect=DIALECT, compile_kwargs={"literal_binds": True}))
    adb = AsyncDatabase.connect(url)
    raw = psycopg.connect(url, autocommit=True)
    try:
        callers: dict[str, Callable[[], object]] = {
            "sync list()": lambda: db.setups.list(limit=1000),
            "async list()": lambda: loop.run_until_complete(adb.setups.list(limit=1000)),
            "raw psycopg": lambda: raw.execute(sql).fetchall(),
            "sync get(1)": lambda: db.setups.get(1),
            "sync totals(1)": lambda: db.setups.totals(1),
        }
        _sanity_check(db, setups)
        for i in range(WARMUP + runs):
            for label, call in callers.items():
                elapsed = _timed(call)
                if i >= WARMUP:
                    samples.setdefault(label, []).append(elapsed)
    finally:
        raw.close()
        db.close()
        loop.run_until_complete(adb.close())
        loop.close()
    return samples


def report(samples: dict[str, list[float]], setups: int, entries: int) -> str:
    """The figures as a table."""
    floor = median_ms(samples["raw psycopg"])
    rows = [
        [
            label,
            f"{median_ms(values):.2f}",
            f"{p90_ms(values):.2f}",
            f"{median_ms(values) / floor:.2f}" if "list" in label or "raw" in label else "",
        ]
        for label, values in samples.items()
    ]
    headers = ["caller", "median ms", "p90 ms", "x raw"]
    return f"{setups} setups x {entries} entries\n" + table(headers, rows)


def main(argv: list[str] | None = None) -> None:
    """Build the data, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=25, help="timed calls per caller (25)")
    parser.add_argument("--setups", type=int, default=1000, help="setups (1000)")
    parser.add_argument("--entries", type=int, default=20, help="entries per setup (20)")
    args = parser.parse_args(argv)
    if args.runs < 15:
        parser.error("--runs must be at least 15")

    print(machine())
    server: TestServer = throwaway_server()
    try:
        template = server.make_template()
        with server.database(template=template) as url:
            if server.data_dir is not None:
                print(f"throwaway embedded PostgreSQL, data in {where(server.data_dir)}")
            t0 = perf_counter()
            populate(url, args.setups, args.entries)
            print(f"populated in {perf_counter() - t0:.1f} s", flush=True)
            samples = measure(url, args.runs, args.setups)
    finally:
        stop_throwaway(server)
    print()
    print(report(samples, args.setups, args.entries))
    print(f"({args.runs} runs each after {WARMUP} warm-up runs; callers take turns run by run)")


if __name__ == "__main__":
    main()
