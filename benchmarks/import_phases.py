"""Where an import's time goes: each phase of the writer, each index it builds.

    python benchmarks/import_phases.py --file /dev/shm/gearbox-legacy-400000.db

Starts a throwaway embedded PostgreSQL (``--data``, on /dev/shm by default),
imports the file into a freshly migrated database and prints the seconds of
the writer's phases (``restore_indexes``, ``restore_foreign_keys``...) and of
each ``CREATE INDEX`` the import runs in its transaction, slowest first; the
rest of the total is reading, converting and copying the rows. Figures only,
never asserted.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from gearbox_db import embedded, migrations
from gearbox_db.importer import _writer, import_sqlite

PHASES = ("prepare", "restore_indexes", "restore_foreign_keys", "restore_totals", "count")


def timed(seconds: dict[str, float], name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, adding the seconds of each call to ``seconds[name]``."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started

    return wrapper


def main() -> None:
    """Parse the options, import once, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, required=True, help="a legacy GearBox SQLite file")
    parser.add_argument("--data", type=Path, default=Path("/dev/shm/gearbox-import-phases"))
    args = parser.parse_args()
    phases: dict[str, float] = {}
    builds: dict[str, float] = {}
    writer = _writer.Writer
    for name in PHASES:
        setattr(writer, name, timed(phases, name, getattr(writer, name)))
    execute = writer._execute

    def measured(self: _writer.Writer, query: Any, params: Any = ()) -> list[Any]:
        text = query if isinstance(query, str) else query.as_string(self._raw)
        if not text.startswith("CREATE INDEX"):
            return execute(self, query, params)
        result: list[Any] = timed(builds, text, execute)(self, query, params)
        return result

    writer._execute = measured  # type: ignore[method-assign]
    server = embedded.start(args.data, keep_running=False)
    try:
        with psycopg.connect(server.url, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS gearbox_phases")
            admin.execute("CREATE DATABASE gearbox_phases")
        url = server.url_for("gearbox_phases")
        migrations.upgrade(url)
        started = time.perf_counter()
        import_sqlite(args.file, url)
        total = time.perf_counter() - started
    finally:
        embedded.stop(args.data)
    print(f"import {total:.2f} s")
    for name, seconds in phases.items():
        print(f"  {name:<24} {seconds:6.2f} s")
    print(f"index builds {sum(builds.values()):.2f} s")
    for text, seconds in sorted(builds.items(), key=lambda item: -item[1]):
        print(f"  {seconds:6.2f} s  {text[:100]}")


if __name__ == "__main__":
    main()
