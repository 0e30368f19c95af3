"""Helpers shared by the benchmark scripts: the machine, file systems, statistics."""

from __future__ import annotations

import contextlib
import inspect
import multiprocessing
import os
import platform
import statistics
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from gearbox_db import migrations

# The scripts share the tests' counting (and delaying) proxy, tests/wire.py.
_ROOT: Final = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

#: The system PostgreSQL the scripts compare with, when it is reachable.
SYSTEM_PG_URL: Final = os.environ.get(
    "GEARBOX_BENCH_SYSTEM_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def cpu_model() -> str:
    """The CPU model named in /proc/cpuinfo (or what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> int:
    """CPUs this process may run on (what ``nproc`` prints)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def filesystem(path: Path) -> str:
    """File system type of the mount holding ``path`` (``tmpfs``, ``ext4``...)."""
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    resolved = str(path.resolve())
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = fields[1].replace("\\040", " ")
        inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) > len(best):
            best, kind = mount_point, fields[2]
    return kind


def where(path: Path) -> str:
    """``path (fstype: tmpfs|disk)`` for the tables."""
    kind = filesystem(path)
    medium = "tmpfs" if kind in {"tmpfs", "ramfs"} else "disk"
    return f"{path} ({kind}, {medium})"


def disk_dir() -> Path:
    """A directory on a real disk: /var/tmp, else /tmp (when not tmpfs)."""
    for candidate in (Path("/var/tmp"), Path("/tmp")):
        if candidate.is_dir() and filesystem(candidate) not in {"tmpfs", "ramfs"}:
            return candidate
    return Path("/var/tmp")


def machine() -> str:
    """One line describing the machine."""
    return (
        f"machine: nproc={nproc()}, CPU: {cpu_model()}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def system_pg_reachable(url: str = SYSTEM_PG_URL) -> str | None:
    """None when the system PostgreSQL answers, else why not."""
    try:
        with psycopg.connect(url, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


def median_ms(samples: Sequence[float]) -> float:
    """Median of ``samples`` (seconds) in milliseconds."""
    return statistics.median(samples) * 1000


def p90_ms(samples: Sequence[float]) -> float:
    """90th percentile of ``samples`` (seconds) in milliseconds."""
    if len(samples) < 2:
        return median_ms(samples)
    return statistics.quantiles(samples, n=10, method="inclusive")[-1] * 1000


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table, columns left-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [
        "  ".join(cell.ljust(w) for w, cell in zip(widths, headers, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(cell.ljust(w) for w, cell in zip(widths, row, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


@contextmanager
def scratch_database(prefix: str, url: str = SYSTEM_PG_URL) -> Iterator[str]:
    """URL of a new database ``<prefix>_<pid>`` on the server of ``url``, migrated to
    head (``gearbox_db.migrations.upgrade``) and dropped afterwards."""
    name = f"{prefix}_{os.getpid()}"
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(drop)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    target = urlsplit(url)._replace(path=f"/{name}").geturl()
    try:
        migrations.upgrade(target)
        yield target
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(drop)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return ", ".join(f"{n:.2f}" for n in os.getloadavg())


def _serve_proxy(url: str, delay: float, channel: Connection) -> None:
    from tests.wire import RoundTripProxy

    with RoundTripProxy(url, delay=delay, record_statements=False) as proxy:
        channel.send(proxy.url)
        with contextlib.suppress(EOFError):
            channel.recv()  # until the parent says stop (or exits)


@contextmanager
def proxied(url: str, delay: float) -> Iterator[str]:
    """``url`` itself when ``delay`` is 0, else the URL of a proxy to it (tests/wire.py)
    holding each chunk ``delay`` seconds each way, run in a process of its own (so
    that its threads do not compete with the measured code for this one's GIL)."""
    if delay <= 0:
        yield url
        return
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_serve_proxy, args=(url, delay, theirs), daemon=True
    )
    process.start()
    try:
        yield str(ours.recv())
    finally:
        ours.send("stop")
        process.join(5)
        if process.is_alive():
            process.kill()


async def opened(made: Any) -> Any:
    """A database from ``connect`` (awaited if it is a coroutine), its pool opened."""
    db = await made if inspect.isawaitable(made) else made
    opener = getattr(db, "open", None)
    if opener is not None:
        result = opener()
        if inspect.isawaitable(result):
            await result
    return db


async def closed(db: Any) -> None:
    """Close ``db`` (sync or async)."""
    result = db.close()
    if inspect.isawaitable(result):
        await result
