"""Per-test cost of the gearbox_db test fixtures.

(a) ``gearbox_database_url``: a fresh database cloned from the run's template
    (``CREATE DATABASE ... TEMPLATE ... STRATEGY <s>``) before the test and
    dropped after it (``DROP DATABASE ... WITH (FORCE)``): setup + teardown.
(b) ``gearbox_connection``: the shared engine's one pooled connection checked
    out + ``begin()``, then rollback + close: setup + teardown.

Each is measured two ways, both printed:

``direct``
    The code the fixtures run, timed in a loop: ``TestServer.database(template=...)``
    for (a), the ``StaticPool`` shared-engine pattern of the plugin for (b).
    Between setup and teardown a trivial test body runs (connect + ``SELECT 1``
    for (a), ``SELECT 1`` for (b)); its time is left out of the figure, but
    the teardown pays for what the body did (a backend to end, a transaction
    to roll back), as in a real test. Also splits (a) into create and drop.
``pytest``
    pytest itself, in a subprocess, on a generated file of N trivial tests per
    fixture; the figure is pytest's own setup + teardown duration of each test
    (``TestReport.duration``), so it includes pytest's per-test fixture
    machinery. A test without fixtures gives that machinery alone (``bare``).

The first test / first iterations (server start, template migration, warm
caches) are not counted. Targets: the throwaway embedded PostgreSQL 16 the
plugin starts (tmpfs, ``fsync=off``), the same on disk, and the system
PostgreSQL at ``$GEARBOX_BENCH_SYSTEM_URL`` (default
postgresql://postgres@127.0.0.1:5432/postgres) in existing-server mode, when
reachable; each with clone strategy ``FILE_COPY`` and ``WAL_LOG``.

Figures only, no assertion on time. Goals: (a) <= 40 ms, (b) <= 0.5 ms.

    python benchmarks/fixture_cost.py [--iterations 100] [--no-pytest] [--no-system]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Final, Literal

import psycopg
from _common import (
    SYSTEM_PG_URL,
    disk_dir,
    machine,
    median_ms,
    p90_ms,
    system_pg_reachable,
    table,
    where,
)
from sqlalchemy import create_engine, text
from sqlalchemy.pool import StaticPool

from gearbox_db._url import mask, to_sqlalchemy_url
from gearbox_db.testing._server import (
    TestServer,
    existing_server,
    stop_throwaway,
    throwaway_server,
)

Strategy = Literal["FILE_COPY", "WAL_LOG"]
STRATEGIES: Final[tuple[Strategy, ...]] = ("FILE_COPY", "WAL_LOG")
WARMUP: Final = 5


@dataclass(frozen=True)
class Target:
    """A server to measure on."""

    label: str
    #: Directory for a throwaway embedded server; None: the system server.
    base: Path | None


@dataclass
class Result:
    """Samples (seconds) of one target, strategy and method."""

    target: Target
    strategy: Strategy
    method: str
    clone: list[float] = field(default_factory=list)
    create: list[float] = field(default_factory=list)
    drop: list[float] = field(default_factory=list)
    rollback: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)


# -- direct ------------------------------------------------------------------------------------


@contextmanager
def _server(target: Target) -> Iterator[TestServer]:
    if target.base is None:
        server = existing_server(SYSTEM_PG_URL)
        try:
            yield server
        finally:
            server.close()
    else:
        server = throwaway_server(base=target.base)
        try:
            yield server
        finally:
            stop_throwaway(server)


def _describe(server: TestServer, target: Target) -> str:
    template = server.make_template()
    with psycopg.connect(server.url_for(template)) as connection:

        def show(query: str) -> str:
            row = connection.execute(query).fetchone()
            return str(row[0]) if row else "?"

        version = show("SHOW server_version").split()[0]
        fsync = show("SHOW fsync")
        size = show("SELECT pg_size_pretty(pg_database_size(current_database()))")
        data_dir = show(
            "SELECT CASE WHEN pg_has_role('pg_read_all_settings', 'MEMBER') "
            "THEN current_setting('data_directory') END"
        )
    place = where(Path(data_dir)) if data_dir not in {"None", "?"} else "unknown"
    if target.base is not None and server.data_dir is not None:
        place = where(server.data_dir)
    return (
        f"{target.label}: PostgreSQL {version}, fsync={fsync} (the plugin clones with "
        f"{server.pick_clone_strategy()}), template {size}, data {place}"
    )


def _trivial_test_on(url: str) -> None:
    with psycopg.connect(url) as connection:
        connection.execute("SELECT 1")


def measure_direct(server: TestServer, results: dict[Strategy, Result], iterations: int) -> None:
    """Time what ``gearbox_database_url`` and ``gearbox_connection`` do per test.

    The strategies take turns, iteration by iteration, so that a load that
    comes and goes on the machine weighs on each alike.
    """
    template = server.make_template()
    for i in range(WARMUP + iterations):
        for strategy, result in results.items():
            server.clone_strategy = strategy
            t0 = perf_counter()
            with server.database(template=template) as url:  # the fixture's body
                t1 = perf_counter()
                _trivial_test_on(url)
                t2 = perf_counter()
            t3 = perf_counter()
            if i >= WARMUP:
                result.create.append(t1 - t0)
                result.drop.append(t3 - t2)
                result.clone.append((t1 - t0) + (t3 - t2))
    for result in results.values():
        _measure_rollback(server, template, iterations, result)


def _measure_rollback(server: TestServer, template: str, iterations: int, result: Result) -> None:
    # The plugin's _gearbox_shared_engine + gearbox_connection, step by step.
    with server.database(template=template) as url:
        engine = create_engine(to_sqlalchemy_url(url), poolclass=StaticPool)
        try:
            select_1 = text("SELECT 1")
            for i in range(WARMUP + iterations):
                t0 = perf_counter()
                with engine.connect() as connection:
                    transaction = connection.begin()
                    t1 = perf_counter()
                    connection.execute(select_1)  # the test
                    t2 = perf_counter()
                    if transaction.is_active:
                        transaction.rollback()
                    else:
                        connection.rollback()
                t3 = perf_counter()
                if i >= WARMUP:
                    result.rollback.append((t1 - t0) + (t3 - t2))
        finally:
            engine.dispose()


# -- pytest ------------------------------------------------------------------------------------

_CONFTEST: Final = '''
"""Generated by benchmarks/fixture_cost.py: records setup/teardown durations."""
import json
import os
from pathlib import Path

import pytest

_durations = {}


def pytest_runtest_logreport(report):
    if report.when in ("setup", "teardown"):
        _durations.setdefault(report.nodeid, {})[report.when] = report.duration


def pytest_sessionfinish(session):
    Path(os.environ["BENCH_OUT"]).write_text(json.dumps(_durations))


@pytest.fixture(scope="session")
def gearbox_template(gearbox_server):
    gearbox_server.clone_strategy = os.environ["BENCH_STRATEGY"]
    return gearbox_server.make_template()


if os.environ.get("BENCH_BASE"):

    @pytest.fixture(scope="session")
    def gearbox_server():
        from gearbox_db.testing._server import stop_throwaway, throwaway_server

        server = throwaway_server(base=Path(os.environ["BENCH_BASE"]))
        yield server
        stop_throwaway(server)
'''

_TESTS: Final = '''
"""Generated by benchmarks/fixture_cost.py: trivial tests, one fixture each."""
import psycopg
import pytest
from sqlalchemy import text

N = {n}
SELECT_1 = text("SELECT 1")


def test_0_warmup(gearbox_database_url, gearbox_connection):
    pass


@pytest.mark.parametrize("i", range(N))
def test_a_clone(gearbox_database_url, i):
    with psycopg.connect(gearbox_database_url) as connection:
        connection.execute("SELECT 1")


@pytest.mark.parametrize("i", range(N))
def test_b_rollback(gearbox_connection, i):
    gearbox_connection.execute(SELECT_1)


@pytest.mark.parametrize("i", range(N))
def test_c_bare(i):
    pass


def test_z_last():  # its teardown carries the session's: not counted
    pass
'''


def measure_pytest(target: Target, strategy: Strategy, iterations: int, result: Result) -> None:
    """Run pytest on generated trivial tests; keep setup + teardown of each."""
    with tempfile.TemporaryDirectory(prefix="gearbox-bench-") as tmp:
        directory = Path(tmp)
        (directory / "conftest.py").write_text(_CONFTEST)
        (directory / "test_bench.py").write_text(_TESTS.format(n=iterations))
        out = directory / "durations.json"
        env = {k: v for k, v in os.environ.items() if k != "GEARBOX_DB_TEST_URL"}
        env |= {"BENCH_OUT": str(out), "BENCH_STRATEGY": strategy}
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p"]
        args += ["no:randomly", "--rootdir", tmp, "test_bench.py"]
        if target.base is None:
            args += ["--gearbox-db-url", SYSTEM_PG_URL]
        else:
            env["BENCH_BASE"] = str(target.base)
        run = subprocess.run(args, cwd=directory, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"inner pytest failed:\n{run.stdout}\n{run.stderr}")
        durations: dict[str, dict[str, float]] = json.loads(out.read_text())
    buckets: dict[str, list[float]] = {
        "test_a_clone": result.clone,
        "test_b_rollback": result.rollback,
        "test_c_bare": result.bare,
    }
    for nodeid, phases in durations.items():
        function = nodeid.split("::")[-1].split("[")[0]
        if function in buckets:
            buckets[function].append(phases["setup"] + phases["teardown"])


# -- report ------------------------------------------------------------------------------------


def _fmt(samples: list[float], digits: int = 1) -> tuple[str, str]:
    if not samples:
        return "-", "-"
    return f"{median_ms(samples):.{digits}f}", f"{p90_ms(samples):.{digits}f}"


def report(results: list[Result]) -> str:
    """The figures as a table (milliseconds)."""
    headers = [
        "server",
        "strategy",
        "method",
        "(a) clone med",
        "p90",
        "create med",
        "drop med",
        "(b) rollback med",
        "p90",
        "bare med",
    ]
    rows = []
    for r in results:
        clone_med, clone_p90 = _fmt(r.clone)
        rollback_med, rollback_p90 = _fmt(r.rollback, 3)
        rows.append(
            [
                r.target.label,
                r.strategy,
                r.method,
                clone_med,
                clone_p90,
                _fmt(r.create)[0],
                _fmt(r.drop)[0],
                rollback_med,
                rollback_p90,
                _fmt(r.bare, 3)[0],
            ]
        )
    return table(headers, rows)


def main(argv: list[str] | None = None) -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--iterations", type=int, default=100, help="tests per figure (100)")
    parser.add_argument("--no-direct", action="store_true", help="skip the direct timing")
    parser.add_argument("--no-pytest", action="store_true", help="skip the pytest runs")
    parser.add_argument("--no-disk", action="store_true", help="skip the embedded server on disk")
    parser.add_argument("--no-system", action="store_true", help="skip the system PostgreSQL")
    parser.add_argument(
        "--strategy", choices=STRATEGIES, action="append", help="clone strategy (default: both)"
    )
    args = parser.parse_args(argv)
    strategies: list[Strategy] = args.strategy or list(STRATEGIES)

    print(machine())
    targets = [Target("embedded tmpfs", Path("/dev/shm"))]
    if not Path("/dev/shm").is_dir() or not os.access("/dev/shm", os.W_OK):
        targets = [Target("embedded tmp", Path(tempfile.gettempdir()))]
    if not args.no_disk:
        targets.append(Target("embedded disk", disk_dir()))
    if not args.no_system:
        problem = system_pg_reachable()
        if problem is None:
            targets.append(Target("system PG", None))
        else:
            print(f"system PostgreSQL {mask(SYSTEM_PG_URL)} skipped: {problem}")

    results: list[Result] = []
    for target in targets:
        if not args.no_direct:
            with _server(target) as server:
                print(_describe(server, target), flush=True)
                direct = {strategy: Result(target, strategy, "direct") for strategy in strategies}
                measure_direct(server, direct, args.iterations)
                results += direct.values()
        if not args.no_pytest:
            for strategy in strategies:
                result = Result(target, strategy, "pytest")
                measure_pytest(target, strategy, args.iterations, result)
                results.append(result)
    print()
    print(f"per-test fixture cost in ms, {args.iterations} tests each (setup + teardown)")
    print(report(results))
    print("goals: (a) <= 40 ms, (b) <= 0.5 ms")


if __name__ == "__main__":
    main()
