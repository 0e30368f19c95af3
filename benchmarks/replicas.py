"""Read throughput with a streaming replica (issue 14), and what read-your-writes costs.

On a throwaway embedded PostgreSQL (tmpfs) and a standby of it made with
``pg_basebackup -R`` (``gearbox_db.testing._replica``), all on this machine:

1. ``--tasks`` async tasks (200) for ``--seconds`` each run, each looping over
   a read-heavy mix (90 % reads: ``items.list``, ``items.get``,
   ``categories.list``, ``items.totals``; 10 % writes: ``items.create``), on
   one ``AsyncDatabase`` shared by the tasks (as a service has one per
   process): the primary alone, then ``connect(url, replicas=[standby])``.
   With the replica every write moves the object's read position, so reads
   right after a write go through the read-your-writes check (or to the
   primary); a third run writes through another object (reads with no
   position: what the replica can take at most). Prints operations per
   second, this process's CPU seconds per wall second, the machine's CPU use
   over the run (both cores: how CPU-bound the run is, client and servers
   sharing them) and the share of the transactions the replica ran.
2. One task, sequential calls (median / p90): ``items.get`` on a database
   without replicas (the hot path), on the replica, and on the replica with
   the read-your-writes check (``pg_last_wal_replay_lsn()`` pipelined with
   the read, which happens when the object's position is past what it knows
   the replica replayed); ``settings.set`` (one-statement write) without
   replicas and with (``BEGIN``, the write, ``COMMIT`` and the position read
   in one flight).

    python benchmarks/replicas.py [--tasks 200] [--seconds 10] [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Final

import psycopg
from _common import machine, median_ms, p90_ms, table

from gearbox_db import AsyncDatabase
from gearbox_db._replicas import Lsn, encode_token
from gearbox_db.testing._replica import standby_of
from gearbox_db.testing._server import stop_throwaway, throwaway_server

ITEMS: Final = 2000
WRITE_SHARE: Final = 0.10
Operation = Callable[[random.Random], Awaitable[object]]


async def seed(db: AsyncDatabase) -> int:
    """ITEMS items in one category; the category's id."""
    category = await db.categories.create(name="Bench")
    async with db.transaction() as tx:
        for n in range(ITEMS):
            await tx.items.create(name=f"item {n}", category_id=category.id, weight_grams=n)
    return category.id


def mix(reads: AsyncDatabase, writes: AsyncDatabase, category_id: int) -> Operation:
    """One operation of the read-heavy mix, drawn with ``rng``."""

    async def operation(rng: random.Random) -> object:
        if rng.random() < WRITE_SHARE:
            return await writes.items.create(name="new", category_id=category_id)
        pick = rng.randrange(4)
        if pick == 0:
            return await reads.items.list(limit=50)
        if pick == 1:
            return await reads.items.get(rng.randrange(1, ITEMS))
        if pick == 2:
            return await reads.categories.list()
        return await reads.items.totals()

    return operation


async def run(operation: Operation, tasks: int, seconds: float) -> tuple[int, float, float]:
    """(operations, wall seconds, this process's CPU seconds) of ``tasks`` looping tasks."""
    stop = time.monotonic() + seconds
    counts = [0] * tasks

    async def worker(index: int) -> None:
        rng = random.Random(index)  # a workload, not a secret
        while time.monotonic() < stop:
            await operation(rng)
            counts[index] += 1

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(i) for i in range(tasks)))
    return sum(counts), time.perf_counter() - wall, time.process_time() - cpu


def connect(url: str, tasks: int, replicas: Sequence[str] = ()) -> AsyncDatabase:
    """A database whose pools hold up to 20 connections each."""
    return AsyncDatabase.connect(url, pool_size=min(tasks, 20), max_overflow=0, replicas=replicas)


def busy_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far (/proc/stat)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def transactions(url: str) -> int:
    """Transactions of the database of ``url`` so far, on that server (pg_stat_database)."""
    query = (
        "SELECT xact_commit + xact_rollback FROM pg_stat_database"
        " WHERE datname = current_database()"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


async def throughput(
    dbs: tuple[AsyncDatabase, AsyncDatabase],
    category_id: int,
    tasks: int,
    seconds: float,
    urls: Sequence[str],
) -> list[str]:
    """ops/s, client CPU s per s, machine CPU busy %, share of the transactions on
    the replica (``urls``: primary, replica) of one run of the mix (``dbs``: the
    database object of its reads, that of its writes)."""
    before = [transactions(url) for url in urls]
    busy, total = busy_cpu()
    ops, wall, cpu = await run(mix(*dbs, category_id), tasks, seconds)
    busy2, total2 = busy_cpu()
    after = [transactions(url) for url in urls]
    machine_busy = 100 * (busy2 - busy) / max(1, total2 - total)
    primary, replica = (b - a for a, b in zip(before, after, strict=True))
    share = f"{100 * replica / max(1, primary + replica):.0f} %"
    return [f"{ops / wall:,.0f}", f"{cpu / wall:.2f}", f"{machine_busy:.0f} %", share]


async def timed(call: Callable[[], Awaitable[object]], calls: int) -> list[float]:
    """Wall seconds of each of ``calls`` sequential calls (after 50 to warm up)."""
    for _ in range(50):
        await call()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


async def checked_get(db: AsyncDatabase, at: Lsn, item_id: int) -> object:
    """``items.get`` through the read-your-writes check, which passes: the read must
    see ``at``, which the replica has replayed, but ``db`` is told it knows one byte less."""
    router = db._router
    assert router is not None
    router.health.replayed(0, Lsn(at.value - 1))
    return await db.reading_after(encode_token(at)).items.get(item_id)


async def latencies(
    plain: AsyncDatabase, routed: AsyncDatabase, replica_at: str, calls: int
) -> list[list[str]]:
    """Rows of sequential-call latencies (ms). ``routed`` has written nothing;
    ``replica_at``: a position the replica has replayed."""
    at = Lsn.parse(replica_at)
    cases: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("items.get, no replicas (hot path)", lambda: plain.items.get(1)),
        ("items.get on the replica", lambda: routed.items.get(1)),
        ("items.get on the replica, read-your-writes check", lambda: checked_get(routed, at, 1)),
        ("settings.set, no replicas", lambda: plain.settings.set("bench", "y")),
        (
            "settings.set, replicas (position in the flight)",
            lambda: routed.settings.set("bench", "z"),
        ),
    ]
    rows = []
    for name, call in cases:
        samples = await timed(call, calls)
        rows.append([name, f"{median_ms(samples):.3f}", f"{p90_ms(samples):.3f}"])
    return rows


async def main(tasks: int, seconds: float, calls: int) -> None:
    """Both runs on one server and one standby; tables of figures."""
    server = throwaway_server()
    try:
        with server.database(template=server.make_template()) as url, standby_of(server) as sb:
            async with connect(url, tasks) as primary:
                category_id = await seed(primary)
                sb.wait_for_replay()
                urls = [url, sb.url_of(url)]
                row = await throughput((primary, primary), category_id, tasks, seconds, urls)
                runs = [["primary alone", *row]]
                async with connect(url, tasks, [sb.url_of(url)]) as routed:
                    row = await throughput((routed, routed), category_id, tasks, seconds, urls)
                    runs.append(["one replica, one object (read your writes)", *row])
                    sb.wait_for_replay()
                async with connect(url, tasks, [sb.url_of(url)]) as reads:
                    row = await throughput((reads, primary), category_id, tasks, seconds, urls)
                    runs.append(["one replica, writes through another object", *row])
                sb.wait_for_replay()
                replica_at = sb.replay_lsn()
                assert replica_at is not None
                async with connect(url, tasks, [sb.url_of(url)]) as routed:  # nothing written
                    sequential = await latencies(primary, routed, replica_at, calls)
    finally:
        stop_throwaway(server)
    print(machine(), f"{os.cpu_count()} CPUs")
    print(f"{tasks} tasks, {seconds:g} s per run, 90 % reads")
    headers = ["run", "ops/s", "client CPU s per s", "machine CPU busy", "on the replica"]
    print(table(headers, runs))
    print(f"\none task, {calls} sequential calls")
    print(table(["call", "median ms", "p90 ms"], sequential))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--calls", type=int, default=2000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.tasks, arguments.seconds, arguments.calls))
