"""The per-request authentication path, and password verification.

On a fresh database of a throwaway embedded PostgreSQL (tmpfs when there is
one), with one user, 1,000 live sessions and 1,000 API keys:

``sessions.validate``
    one statement (sessions JOIN users, expiry in the WHERE), with and
    without sliding expiry (the renewal UPDATE rides in a CTE of the same
    statement and writes at most once per interval);
``api_keys.authenticate``
    one statement (api_keys JOIN users; the ``last_used_at`` UPDATE rides in a
    CTE and writes at most once per 5 minutes per key);
``oauth.validate_access``
    one statement (oauth_tokens JOIN users);
``SELECT 1``
    a raw psycopg round trip on one open connection, for scale.

Each through ``Database`` and ``AsyncDatabase`` (pooled connection, pre-ping,
transaction, statement, record): median and p90 of ``--runs`` calls after a
warm-up, and this process's CPU time per call. Then password hashing and
verification (argon2id), which must stay deliberately slow: the current
parameters (RFC 9106 low-memory: m=64 MiB, t=3, p=4), the old application's
(Bun defaults: m=64 MiB, t=2, p=1), and ``users.verify_password`` end to end.
Figures only, no assertion on time.

    python benchmarks/auth_hot_path.py [--runs 500] [--password-runs 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from time import perf_counter, process_time
from typing import Any, Final

import psycopg
from _common import machine, median_ms, p90_ms, table
from argon2 import PasswordHasher

from gearbox_db import AsyncDatabase, Database, passwords
from gearbox_db.testing._server import stop_throwaway, throwaway_server

WARMUP: Final = 20
ROWS: Final = 1000
LEGACY = PasswordHasher(time_cost=2, memory_cost=65536, parallelism=1, hash_len=32, salt_len=32)
Samples = tuple[list[float], list[float]]  # wall seconds, CPU seconds


@contextmanager
def database() -> Iterator[str]:
    """A fresh, migrated database on a throwaway server."""
    server = throwaway_server()
    try:
        with server.database(template=server.make_template()) as url:
            yield url
    finally:
        stop_throwaway(server)


def seed(db: Database) -> dict[str, str]:
    """One user with ROWS sessions and keys and a token pair; one raw secret of each."""
    user = db.users.create(username="bench", password_hash=LEGACY.hash("password"))
    with db.transaction() as tx:
        tokens = [tx.sessions.create(user.id).token for _ in range(ROWS)]
        keys = [tx.api_keys.create(user.id, name=f"key {n}").key for n in range(ROWS)]
    db.oauth.register_client("bench", redirect_uris=["https://bench.example/cb"])
    issued = db.oauth.issue_tokens("bench", user.id)
    return {"session": tokens[ROWS // 2], "key": keys[ROWS // 2], "access": issued.access_token}


def measure(call: Callable[[], Any], runs: int) -> Samples:
    """Wall and CPU time of ``runs`` calls, after a warm-up."""
    for _ in range(WARMUP):
        call()
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = perf_counter(), process_time()
        call()
        wall.append(perf_counter() - start)
        cpu.append(process_time() - start_cpu)
    return wall, cpu


async def ameasure(call: Callable[[], Awaitable[Any]], runs: int) -> Samples:
    """:func:`measure` for a coroutine function."""
    for _ in range(WARMUP):
        await call()
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = perf_counter(), process_time()
        await call()
        wall.append(perf_counter() - start)
        cpu.append(process_time() - start_cpu)
    return wall, cpu


def sync_rows(url: str, raw: dict[str, str], runs: int) -> dict[str, Samples]:
    """The hot path through ``Database``."""
    slide = {"renew_to": timedelta(days=30), "renew_every": timedelta(hours=1)}
    with Database.connect(url) as db, psycopg.connect(url, autocommit=True) as plain:
        return {
            "sessions.validate": measure(lambda: db.sessions.validate(raw["session"]), runs),
            "sessions.validate (sliding)": measure(
                lambda: db.sessions.validate(raw["session"], **slide), runs
            ),
            "api_keys.authenticate": measure(lambda: db.api_keys.authenticate(raw["key"]), runs),
            "oauth.validate_access": measure(lambda: db.oauth.validate_access(raw["access"]), runs),
            "raw psycopg SELECT 1": measure(lambda: plain.execute("SELECT 1").fetchone(), runs),
        }


async def async_rows(url: str, raw: dict[str, str], runs: int) -> dict[str, Samples]:
    """The hot path through ``AsyncDatabase``."""
    async with AsyncDatabase.connect(url) as db:
        return {
            "sessions.validate": await ameasure(lambda: db.sessions.validate(raw["session"]), runs),
            "api_keys.authenticate": await ameasure(
                lambda: db.api_keys.authenticate(raw["key"]), runs
            ),
            "oauth.validate_access": await ameasure(
                lambda: db.oauth.validate_access(raw["access"]), runs
            ),
        }


def password_rows(url: str, runs: int) -> dict[str, Samples]:
    """argon2id: hashing and verifying with the current and the old parameters."""
    current, legacy = passwords.hash_password("password"), LEGACY.hash("password")
    with Database.connect(url) as db:
        db.users.create(username="current", password_hash=current)
        return {
            "hash_password (current)": measure(lambda: passwords.hash_password("password"), runs),
            "verify (current m=64MiB,t=3,p=4)": measure(
                lambda: passwords.verify_password(current, "password"), runs
            ),
            "verify (Bun m=64MiB,t=2,p=1)": measure(
                lambda: passwords.verify_password(legacy, "password"), runs
            ),
            "users.verify_password (end to end)": measure(
                lambda: db.users.verify_password("current", "password"), runs
            ),
        }


def lines(api: str, rows: dict[str, Samples]) -> list[list[str]]:
    """Table lines: median, p90 and median CPU time (ms) of each operation."""
    return [
        [api, name, f"{median_ms(wall):.3f}", f"{p90_ms(wall):.3f}", f"{median_ms(cpu):.3f}"]
        for name, (wall, cpu) in rows.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--password-runs", type=int, default=10)
    args = parser.parse_args()
    print(machine())
    with database() as url:
        with Database.connect(url) as db:
            raw = seed(db)
        found = lines("sync", sync_rows(url, raw, args.runs))
        found += lines("async", asyncio.run(async_rows(url, raw, args.runs)))
        found += lines("sync", password_rows(url, args.password_runs))
    print(f"load average: {', '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(f"{args.runs} runs per hot-path row, {args.password_runs} per password row\n")
    headers = ["api", "operation", "median ms", "p90 ms", "CPU ms (client)"]
    print(table(headers, found))


if __name__ == "__main__":
    main()
