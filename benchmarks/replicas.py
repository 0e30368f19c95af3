"""Read throughput with a streaming replica (issue 14), and the read-your-writes check.

SKELETON: the routing API (``AsyncDatabase.connect(url, replicas=[...])``)
lands with issue 9's executor. Until then the "one replica" run routes by
hand: reads through a database object on the standby, writes through one on
the primary (no read-your-writes), which is the upper bound the real routing
should approach. To finish: replace :func:`routed` by the library's own
routing, add a run with a read position carried by every task (its
read-your-writes check on every read), and print the server processes' CPU.

On a throwaway embedded PostgreSQL (tmpfs) and a standby of it made with
``pg_basebackup -R`` (``gearbox_db.testing._replica``): ``--tasks`` async tasks
(200) for ``--seconds`` each run, each looping over a read-heavy mix (90 %
reads: ``items.list``, ``items.get``, ``categories.list``, ``items.totals``;
10 % writes: ``items.create``). Prints operations per second, this process's
CPU seconds per wall second (how CPU-bound the client is on this machine;
the servers share the same cores), and the latency of the check a
read-your-writes read adds on a replica (``pg_last_wal_replay_lsn()``, one
round trip when not pipelined with the read).

    python benchmarks/replicas.py [--tasks 200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from typing import Final

from _common import machine, median_ms, p90_ms, table

from gearbox_db import AsyncDatabase
from gearbox_db.testing._replica import Standby, standby_of
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


async def connect(url: str, tasks: int) -> AsyncDatabase:
    """A database whose pool holds up to 20 connections."""
    db = AsyncDatabase.connect(url, pool_size=min(tasks, 20), max_overflow=0)
    await db.open()
    return db


async def routed(primary_url: str, standby: Standby, tasks: int) -> tuple[AsyncDatabase, ...]:
    """(reads, writes) databases of the hand-routed run (TODO: the library's routing)."""
    reads = await connect(standby.url_of(primary_url), tasks)
    return reads, await connect(primary_url, tasks)


def check_latency(standby: Standby, runs: int = 500) -> list[float]:
    """Wall seconds of the read-your-writes check on the standby, on one open connection."""
    samples = []
    with standby.connect() as conn:
        for _ in range(runs):
            start = time.perf_counter()
            conn.execute("SELECT pg_last_wal_replay_lsn()").fetchone()
            samples.append(time.perf_counter() - start)
    return samples


async def main(tasks: int, seconds: float) -> None:
    """Both runs on one server and one standby; a table of figures."""
    server = throwaway_server()
    try:
        with server.database(template=server.make_template()) as url, standby_of(server) as sb:
            primary = await connect(url, tasks)
            category_id = await seed(primary)
            sb.wait_for_replay()
            rows = []
            ops, wall, cpu = await run(mix(primary, primary, category_id), tasks, seconds)
            rows.append(["primary alone", f"{ops / wall:,.0f}", f"{cpu / wall:.2f}"])
            reads, writes = await routed(url, sb, tasks)
            ops, wall, cpu = await run(mix(reads, writes, category_id), tasks, seconds)
            rows.append(["one replica (hand-routed)", f"{ops / wall:,.0f}", f"{cpu / wall:.2f}"])
            for db in (primary, reads, writes):
                await db.close()
            check = check_latency(sb)
    finally:
        stop_throwaway(server)
    print(machine(), f"{os.cpu_count()} CPUs")
    print(table(["run", "ops/s", "client CPU s per s"], rows))
    print(f"read-your-writes check: median {median_ms(check):.3f} ms, p90 {p90_ms(check):.3f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.tasks, arguments.seconds))
