"""Time from nothing to a migrated embedded PostgreSQL database.

Three situations, each in a fresh temporary directory on tmpfs (/dev/shm)
and on disk (/var/tmp, else /tmp), removed afterwards:

``fresh``
    No data directory: ``initdb`` + start + ``migrations.upgrade`` (all migrations).
``stopped``
    A migrated data directory, server stopped: start + upgrade (a no-op).
``running``
    The server already runs: reuse it + upgrade (a no-op).

Each sample runs in a new Python process, as the ``gearbox-db`` CLI or a
service's first start would: ``embedded.start(data_dir)`` then
``migrations.upgrade(url)``, timed inside the process (``start``, ``upgrade``,
``total``); ``process`` is the wall time of the whole child process,
interpreter start and imports included. Median of ``--repeat`` (default 5)
samples. Figures only, no assertion on time.

    python benchmarks/embedded_startup.py [--repeat 5] [--python PY ...]

``--python`` runs the samples with other interpreters too (each must have
gearbox-db with its ``embedded`` extra installed), side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from typing import Final

from _common import disk_dir, machine, table, where

from gearbox_db import embedded

#: What one sample does, in its own process.
_CHILD: Final = """
import json, sys, time
t0 = time.perf_counter()
from pathlib import Path
from gearbox_db import embedded, migrations
t1 = time.perf_counter()
info = embedded.start(Path(sys.argv[1]), keep_running=True)
t2 = time.perf_counter()
migrations.upgrade(info.url)
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "start": t2 - t1, "upgrade": t3 - t2, "total": t3 - t1,
                  "started": info.started}))
"""

SITUATIONS: Final = ("fresh", "stopped", "running")


def _sample(python: str, data_dir: Path) -> dict[str, float]:
    t0 = perf_counter()
    run = subprocess.run([python, "-c", _CHILD, str(data_dir)], capture_output=True, text=True)
    wall = perf_counter() - t0
    if run.returncode != 0:
        raise RuntimeError(f"sample failed:\n{run.stdout}\n{run.stderr}")
    figures: dict[str, float] = json.loads(run.stdout.strip().splitlines()[-1])
    figures["process"] = wall
    return figures


def measure(python: str, base: Path, repeat: int) -> dict[str, list[dict[str, float]]]:
    """Samples of each situation with data directories under ``base``, run by ``python``."""
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in SITUATIONS}
    work = Path(tempfile.mkdtemp(prefix="gearbox-bench-startup-", dir=base))
    work.chmod(0o755)  # as root the server's own account must reach its data directory
    try:
        for i in range(repeat):
            data_dir = work / f"pg{i}"
            try:
                fresh = _sample(python, data_dir)
                assert fresh["started"]
                samples["fresh"].append(fresh)
                running = _sample(python, data_dir)
                assert not running["started"]
                samples["running"].append(running)
                embedded.stop(data_dir)
                stopped = _sample(python, data_dir)
                assert stopped["started"]
                samples["stopped"].append(stopped)
            finally:
                embedded.stop(data_dir, remove=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return samples


def main(argv: list[str] | None = None) -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description="time to a migrated embedded database")
    parser.add_argument("--repeat", type=int, default=5, help="samples per figure (5)")
    parser.add_argument(
        "--python", action="append", default=[], help="another interpreter to sample with"
    )
    args = parser.parse_args(argv)
    pythons = [sys.executable, *args.python]
    print(machine())
    bases = [Path("/dev/shm"), disk_dir()]
    rows: list[list[str]] = []
    for python, base in [(python, base) for python in pythons for base in bases]:
        if not base.is_dir():
            continue
        version = subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        print(f"measuring with Python {version} in {where(base)}...", flush=True)
        samples = measure(python, base, args.repeat)
        for situation in SITUATIONS:
            runs = samples[situation]

            def med(key: str, runs: list[dict[str, float]] = runs) -> str:
                return f"{statistics.median(s[key] for s in runs) * 1000:.0f}"

            rows.append(
                [
                    version,
                    where(base),
                    situation,
                    med("start"),
                    med("upgrade"),
                    med("total"),
                    med("import"),
                    med("process"),
                ]
            )
    print()
    print(f"embedded PostgreSQL to a migrated database, ms, median of {args.repeat}")
    headers = [
        "Python",
        "data directory in",
        "situation",
        "start",
        "upgrade",
        "total",
        "import",
        "process",
    ]
    print(table(headers, rows))
    print("total = start + upgrade in-process; process = whole child incl. interpreter + imports")


if __name__ == "__main__":
    main()
