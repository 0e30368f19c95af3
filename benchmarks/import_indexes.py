"""What building the non-unique indexes costs the import, per index and per setting.

    python benchmarks/import_indexes.py --url postgresql://postgres@127.0.0.1:5432/big

On a database holding imported data (e.g. the 400,000-item file), in one
transaction that is rolled back at the end (nothing changes): drops every
non-unique index of the GearBox tables, as the importer does for its load, then
builds them again, timing each ``CREATE INDEX`` under each
``maintenance_work_mem`` of ``--memory`` (and ``max_parallel_maintenance_workers``
of ``--workers``), dropping them again between settings. Prints ms per index and
the sum per setting: the part of an import spent on indexes, and what a larger
``maintenance_work_mem`` (``SET LOCAL``, inside the import's transaction) saves.
Figures only, never asserted.
"""

from __future__ import annotations

import argparse
import os
import time

import psycopg

from gearbox_db.importer._tables import TABLES

_INDEXES = (
    "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
    "WHERE NOT indisunique AND indrelid::regclass::text = ANY(%s) "
    "AND NOT EXISTS (SELECT FROM pg_constraint WHERE conindid = indexrelid) ORDER BY 1"
)


def build_all(conn: psycopg.Connection, indexes: list[tuple[str, str]]) -> dict[str, float]:
    """Drop and build again every index; ms per index."""
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    times = {}
    for name, definition in indexes:
        started = time.perf_counter()
        conn.execute(definition)
        times[name] = (time.perf_counter() - started) * 1000
    return times


def main() -> None:
    """Parse the options, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--memory", nargs="+", default=["64MB", "256MB", "1GB"])
    parser.add_argument("--workers", nargs="+", type=int, default=[0, 2])
    options = parser.parse_args()
    with psycopg.connect(options.url) as conn:
        names = [table.name for table in TABLES]
        indexes = [(n, d) for n, d in conn.execute(_INDEXES, (names,)).fetchall()]
        results = {}
        for workers in options.workers:
            for memory in options.memory:
                conn.execute(f"SET LOCAL maintenance_work_mem = '{memory}'")
                conn.execute(f"SET LOCAL max_parallel_maintenance_workers = {workers}")
                results[(memory, workers)] = build_all(conn, indexes)
                print(f"built with {memory}, {workers} workers; load {os.getloadavg()[0]:.2f}")
        conn.rollback()
    settings = list(results)
    print(f"{'index (ms)':<44}" + "".join(f"{f'{m}/{w}w':>12}" for m, w in settings))
    for name, _ in indexes:
        print(f"{name:<44}" + "".join(f"{results[s][name]:12.0f}" for s in settings))
    print(f"{'sum':<44}" + "".join(f"{sum(results[s].values()):12.0f}" for s in settings))


if __name__ == "__main__":
    main()
