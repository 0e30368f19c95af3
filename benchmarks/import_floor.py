"""The import beside its server floor and pgloader, on an existing server, side by side.

    python benchmarks/import_floor.py --url postgresql://postgres@127.0.0.1:5432/postgres \\
        --file /dev/shm/gearbox-legacy-400000.db [--runs 3] [--pgloader]

For each run, on fresh databases of the server at ``--url``:

``import``
    ``import_sqlite(file, url)`` into a migrated database (the importer drops the
    foreign keys and non-unique indexes, COPYs, builds them again, one transaction);
``floor``
    the same rows, exported by the server with ``COPY ... TO`` (binary) from the
    imported database, loaded into a migrated database on one connection in one
    transaction: drop the foreign keys and non-unique indexes, ``COPY ... FROM``
    the server-side files (binary), build them again; the least the server must
    do to reach the same state;
``pgloader``
    (``--pgloader``, a ``pgloader`` binary on PATH) the file loaded by pgloader
    with its defaults into an empty database (it creates tables and indexes).

Prints the seconds of each and the ratios import/floor and pgloader/import; the
server must be able to write and read ``--spool`` (default /dev/shm/gearbox-floor).
Figures only, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from gearbox_db import migrations
from gearbox_db.importer import import_sqlite
from gearbox_db.importer._tables import TABLES
from gearbox_db.importer._writer import _FOREIGN_KEYS, _INDEXES, _OWN, _TOTALS_TRIGGERS

NAMES = [table.name for table in TABLES]


def fresh(admin_url: str, name: str, migrate: bool = True) -> str:
    """A new empty database ``name`` (migrated to head unless ``migrate`` is false)."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, query = admin_url.partition("?")
    url = f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")
    if migrate:
        migrations.upgrade(url)
    return url


def export(url: str, spool: Path) -> None:
    """Every GearBox table of ``url`` into ``spool/<table>.bin`` (binary, server-side)."""
    spool.mkdir(parents=True, exist_ok=True)
    spool.chmod(0o777)
    with psycopg.connect(url, autocommit=True) as conn:
        for name in NAMES:
            target = str(spool / f"{name}.bin")
            conn.execute(
                sql.SQL("COPY {} TO {} (FORMAT binary)").format(sql.Identifier(name), target)
            )


def floor(url: str, spool: Path) -> float:
    """Seconds to load the exported rows into ``url`` the least costly way (one transaction)."""
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        keys: list[Any] = conn.execute(_FOREIGN_KEYS, (NAMES,)).fetchall()
        indexes: list[Any] = conn.execute(_INDEXES, (NAMES,)).fetchall()
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, _OWN))))
        for trigger in _TOTALS_TRIGGERS:  # category_totals: recounted once, as the importer does
            conn.execute(
                sql.SQL("ALTER TABLE items DISABLE TRIGGER {}").format(sql.Identifier(trigger))
            )
        for table, name, _ in keys:
            conn.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.SQL(table), sql.Identifier(name)
                )
            )
        for name, _, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
        for name in NAMES:
            source = str(spool / f"{name}.bin")
            conn.execute(
                sql.SQL("COPY {} FROM {} (FORMAT binary)").format(sql.Identifier(name), source)
            )
        for _, definition, statistics_targets in indexes:
            for statement in [definition, *statistics_targets]:
                conn.execute(sql.SQL(statement))
        for table, name, definition in keys:
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    sql.SQL(table), sql.Identifier(name), sql.SQL(definition)
                )
            )
        conn.execute("SELECT gearbox_recount_category_totals()")
        for trigger in _TOTALS_TRIGGERS:
            conn.execute(
                sql.SQL("ALTER TABLE items ENABLE TRIGGER {}").format(sql.Identifier(trigger))
            )
        conn.commit()
        return time.perf_counter() - started


def pgloader(admin_url: str, file: Path) -> float:
    """Seconds pgloader takes to load ``file`` into a new empty database."""
    url = fresh(admin_url, "gearbox_bench_pgloader", migrate=False)
    params = psycopg.conninfo.conninfo_to_dict(url)
    user, port = params.get("user", "postgres"), params.get("port", 5432)
    host = str(params["host"])
    host = f"unix:{host}" if host.startswith("/") else host  # a socket directory
    target = f"pgsql://{user}@{host}:{port}/{params['dbname']}"
    started = time.perf_counter()
    done = subprocess.run(
        ["pgloader", "--quiet", f"sqlite://{file}", target], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return time.perf_counter() - started


def main() -> None:
    """Parse the options, run, print one line per run and the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="a database of the server (for CREATE DATABASE)"
    )
    parser.add_argument("--file", type=Path, required=True, help="a legacy GearBox SQLite file")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--spool", type=Path, default=Path("/dev/shm/gearbox-floor"))
    parser.add_argument("--pgloader", action="store_true")
    args = parser.parse_args()
    use_pgloader = args.pgloader and shutil.which("pgloader") is not None
    figures: dict[str, list[float]] = {"import": [], "floor": [], "pgloader": []}
    for run in range(args.runs):
        url = fresh(args.url, "gearbox_bench_import")
        started = time.perf_counter()
        result = import_sqlite(args.file, url)
        figures["import"].append(time.perf_counter() - started)
        if run == 0:
            export(url, args.spool)
        figures["floor"].append(floor(fresh(args.url, "gearbox_bench_floor"), args.spool))
        if use_pgloader:
            figures["pgloader"].append(pgloader(args.url, args.file))
        line = ", ".join(f"{k} {v[-1]:.2f} s" for k, v in figures.items() if v)
        print(f"run {run + 1}: {result.rows_written} rows; {line}; load {os.getloadavg()[0]:.2f}")
    medians = {k: statistics.median(v) for k, v in figures.items() if v}
    print("median: " + ", ".join(f"{k} {v:.2f} s" for k, v in medians.items()))
    print(f"import / floor = {medians['import'] / medians['floor']:.2f} (goal <= 1.3)")
    if "pgloader" in medians:
        print(f"pgloader / import = {medians['pgloader'] / medians['import']:.2f} (goal >= 1.5)")
    shutil.rmtree(args.spool, ignore_errors=True)


if __name__ == "__main__":
    main()
