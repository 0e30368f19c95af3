"""End-to-end speed and memory of ``import-sqlite`` on a generated legacy file.

    python benchmarks/import_sqlite.py                       # 400,000 items (~625,000 rows)
    python benchmarks/import_sqlite.py --scale 1 2 --runs 3  # and twice that: memory stays flat

Generates the legacy file once (cached in ``--cache``, /dev/shm by default),
starts a throwaway embedded PostgreSQL 16 on /dev/shm, and for each run
imports the file into a freshly migrated database in a child process,
reporting the seconds plain sqlite3 takes to read the file (to compare the
machine with the issue's anchor, ~0.9 s on a quiet machine), then the
import's wall time, rows/s, the child's peak RSS (VmHWM) and
CPU time, the server's CPU time, and the load average (other work on the
machine slows everything down). With ``--pgloader`` (when a ``pgloader``
binary is on PATH: ``apt-get install pgloader``) each run also loads the same
file into a fresh empty database of the same server with pgloader's defaults
(it creates the tables, indexes and foreign keys itself), for the issue's
comparison in one run. ``--totals recount triggers none`` times, in every run,
each way of making ``category_totals`` (revision 0004): triggers off for the
load and one recount (the importer's default), through the triggers, and not
at all (the import before 0004). Linux only (/proc). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from gearbox_db import embedded, migrations
from gearbox_db.testing import legacy

#: The import, run in a child process so that its peak RSS is its own.
_CHILD = """
import json, sys, time
from gearbox_db.importer import import_sqlite
from gearbox_db.importer._writer import Writer
if sys.argv[3] == "triggers":  # category_totals kept by its triggers during the load
    Writer.recount_totals = False
elif sys.argv[3] == "none":  # no category_totals at all: what an import cost before 0004
    def restore_totals(self):
        for op in ("insert", "update", "delete"):
            self._execute(f"ALTER TABLE items ENABLE TRIGGER items_category_totals_{op}")
    Writer.restore_totals = restore_totals
started = time.perf_counter()
result = import_sqlite(sys.argv[1], sys.argv[2])
assert result.written and not result.problems, result.problems[:3]
seconds = time.perf_counter() - started
# VmHWM: this process's peak RSS since exec (ru_maxrss would include the parent's at fork).
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
print(json.dumps({"seconds": seconds, "rows": result.rows_written, "peak_kb": int(status)}))
"""


def legacy_file(cache: Path, items: int) -> Path:
    """The generated file for ``items`` items, made once."""
    path = cache / f"gearbox-legacy-{items}.db"
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        made = legacy.generate(partial, legacy.Spec(items=items, seed=1))
        partial.rename(path)
        rows = sum(made.counts.values())
        print(f"generated {path} ({rows} rows) in {time.perf_counter() - started:.1f} s")
    return path


#: The issue's anchor: reading such a file with sqlite3 took ~0.9 s on a quiet machine.
_READ = """
import sqlite3, sys, time
conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
started = time.perf_counter()
tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
rows = sum(len(conn.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)
print(time.perf_counter() - started)
"""


def read_seconds(path: Path) -> float:
    """Seconds to read every row of ``path`` with sqlite3 (calibrates against the anchor)."""
    done = subprocess.run(
        [sys.executable, "-c", _READ, str(path)], capture_output=True, text=True, check=True
    )
    return round(float(done.stdout), 3)


def _server_cpu(data_dir: Path) -> float:
    """CPU seconds of the server so far (its processes and the exited backends)."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, parent = int(entry.name), int(fields[1])
        if pid == postmaster:
            ticks += sum(int(f) for f in fields[11:15])  # own + reaped children's
        elif parent == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def one_run(
    server: embedded.EmbeddedServer, path: Path, name: str, totals: str = "recount"
) -> dict[str, Any]:
    """Import ``path`` into a new migrated database ``name``; the figures.

    ``totals``: how ``category_totals`` is made (``recount``: triggers off for the
    load, one recount at the end, the importer's default; ``triggers``: through its
    triggers; ``none``: not at all, the cost of an import before revision 0004).
    """
    with psycopg.connect(server.url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server.url_for(name)
    migrations.upgrade(url)
    cpu_before = _server_cpu(server.data_dir)
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), url, totals], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    assert status == 0, f"the import failed ({status})"
    figures = json.loads(output)
    return {
        "totals": totals,
        "rows": figures["rows"],
        "import_s": round(figures["seconds"], 3),
        "process_s": round(wall, 3),
        "rows_per_s": round(figures["rows"] / figures["seconds"]),
        "peak_rss_mb": round(figures["peak_kb"] / 1024, 1),
        "client_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "server_cpu_s": round(_server_cpu(server.data_dir) - cpu_before, 2),
        "load_avg": os.getloadavg()[0],
    }


def pgloader_run(server: embedded.EmbeddedServer, path: Path, name: str) -> dict[str, Any]:
    """Load ``path`` with pgloader into a new empty database ``name``; the figures."""
    with psycopg.connect(server.url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    target = f"pgsql://postgres@unix:{server.socket_dir}:{server.port}/{name}"
    started = time.perf_counter()
    done = subprocess.run(
        ["pgloader", "--quiet", f"sqlite://{path}", target], capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-2000:]
    return {"pgloader_s": round(wall, 3), "load_avg": os.getloadavg()[0]}


def main() -> None:
    """Parse the options, run, print one line per run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=400_000)
    parser.add_argument("--scale", type=int, nargs="+", default=[1])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path("/dev/shm"))
    parser.add_argument("--pgloader", action="store_true", help="also time pgloader, same run")
    parser.add_argument(
        "--totals",
        nargs="+",
        choices=["recount", "triggers", "none"],
        default=["recount"],
        help="ways to make category_totals, each timed in every run (see one_run)",
    )
    parser.add_argument(
        "--server-dir",
        type=Path,
        default=Path("/dev/shm"),
        help="where the server's data directory goes (/dev/shm: tmpfs; e.g. /var/tmp: disk)",
    )
    options = parser.parse_args()
    data_dir = options.server_dir / f"gearbox-db-bench-{os.getpid()}"
    server = embedded.start(data_dir, keep_running=False)
    try:
        print(json.dumps({"server_data_dir": str(data_dir)}))
        for scale in options.scale:
            path = legacy_file(options.cache, options.items * scale)
            print(json.dumps({"items": options.items * scale, "sqlite_read_s": read_seconds(path)}))
            for run in range(options.runs):
                for totals in options.totals:
                    figures = one_run(server, path, f"bench_{scale}_{run}_{totals}", totals)
                    print(json.dumps({"items": options.items * scale, "run": run + 1, **figures}))
                if options.pgloader:
                    other = pgloader_run(server, path, f"pgloader_{scale}_{run}")
                    ratio = round(other["pgloader_s"] / figures["import_s"], 2)
                    print(json.dumps({"run": run + 1, **other, "pgloader_over_import": ratio}))
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
