"""``Database.connect``: a psycopg pool that does no I/O when made, keeps its
connections, runs safely behind a transaction pooler, and never waits unbounded."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from gearbox_db import AsyncDatabase, Database
from gearbox_db.errors import (
    ConfigurationError,
    ConflictError,
    InvalidStateError,
    NotFoundError,
    StatementTimeoutError,
    UnavailableError,
)


def _backends(url: str, application_name: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application_name,)
        ).fetchall()
    return [pid for (pid,) in rows]


def test_connect_does_no_io_on_either_side() -> None:
    """Nothing listens on the port: making the objects still works (the pool opens later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://nobody@127.0.0.1:{port}/nowhere"
    Database.connect(url).close()
    adb = AsyncDatabase.connect(url)  # a plain call, outside any event loop
    assert adb.pool is not None
    assert adb.pool.closed


def test_bad_settings_are_refused_by_name() -> None:
    with pytest.raises(ConfigurationError, match="pool_timeout"):
        Database.connect("postgresql://u@h/db", pool_timeout=0)
    with pytest.raises(ConfigurationError, match="statement_timeout"):
        Database.connect("postgresql://u@h/db", statement_timeout=-1)
    with pytest.raises(ConfigurationError, match="pool_size"):
        Database.connect("postgresql://u@h/db", pool_size=-1)


def test_a_closed_database_says_so(gearbox_database_url: str) -> None:
    db = Database.connect(gearbox_database_url)
    db.settings.set("k", "v")
    db.close()
    with pytest.raises(InvalidStateError, match="closed"):
        db.settings.get("k")


def test_url_options_are_kept(gearbox_database_url: str) -> None:
    joiner = "&" if "?" in gearbox_database_url else "?"
    url = f"{gearbox_database_url}{joiner}options=-c%20search_path%3Delsewhere,public"
    with Database.connect(url) as db:
        assert db.pool is not None
        with db.pool.connection() as connection:
            row = connection.execute("SHOW search_path").fetchone()
    assert row is not None
    assert row[0].replace(" ", "") == "elsewhere,public"


@pytest.mark.parametrize("prepared", [True, False])
def test_prepared_statements_can_be_turned_off(gearbox_database_url: str, prepared: bool) -> None:
    # No kept connection (pool_size=0): the pool's one connection is the one inspected.
    with Database.connect(
        gearbox_database_url, pool_size=0, max_overflow=1, prepared_statements=prepared
    ) as db:
        db.settings.set("theme", "dark")
        for _ in range(10):
            assert db.settings.get("theme") == "dark"
        assert db.pool is not None
        with db.pool.connection() as connection:
            row = connection.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
    assert row is not None
    assert (row[0] > 0) is prepared


def test_connections_above_the_minimum_are_kept_while_in_use(gearbox_database_url: str) -> None:
    """Overflow connections are not closed on return: a second burst opens no session."""
    name = f"churn-{os.getpid()}"
    with Database.connect(
        gearbox_database_url, pool_size=1, max_overflow=3, application_name=name
    ) as db:
        barrier = threading.Barrier(4)

        def burst() -> None:
            with db.transaction() as tx:
                tx.settings.set(f"k{threading.get_ident()}", "v")
                barrier.wait(timeout=10)

        served: list[list[int]] = []
        for _ in range(3):
            threads = [threading.Thread(target=burst) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            served.append(sorted(_backends(gearbox_database_url, name)))
        assert len(served[0]) == 4
        assert served[1] == served[0] == served[2]  # the same sessions served every burst


def _create_then_rename(db: Database, category_id: int) -> None:
    with db.transaction() as tx:
        tx.items.create(name="Stove", category_id=category_id)
        tx.categories.update(category_id, name="Renamed")


def test_statement_timeout_is_its_own_error_and_writes_nothing(gearbox_database_url: str) -> None:
    with Database.connect(gearbox_database_url, statement_timeout=0.2) as db:
        category = db.categories.create(name="Locked")
        with psycopg.connect(gearbox_database_url) as holder:
            holder.execute("SELECT 1 FROM categories WHERE id = %s FOR UPDATE", (category.id,))
            with pytest.raises(StatementTimeoutError) as info:
                db.categories.update(category.id, name="Renamed")
            with pytest.raises(StatementTimeoutError):
                _create_then_rename(db, category.id)
            holder.rollback()
        assert isinstance(info.value, UnavailableError)
        assert info.value.sqlstate == "57014"
        assert db.categories.get(category.id).name == "Locked"
        assert db.items.list(category_id=category.id).items == ()


def test_sessions_carry_no_setting_of_ours(gearbox_database_url: str) -> None:
    """No ``options`` startup parameter, no session SET: any pooler's sessions will do."""
    with Database.connect(gearbox_database_url, statement_timeout=5) as db:
        db.settings.set("k", "v")
        assert db.pool is not None
        with db.pool.connection() as connection:
            row = connection.execute(
                "SELECT current_setting('statement_timeout'), current_setting('TimeZone')"
            ).fetchone()
        with psycopg.connect(gearbox_database_url) as plain:
            default = plain.execute("SHOW TimeZone").fetchone()
    assert row is not None
    assert default is not None
    assert row == ("0", default[0])


@contextmanager
def _silent_listener() -> Iterator[int]:
    """A TCP listener that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for sock in accepted:
            sock.close()
        server.close()


def test_a_server_that_never_answers_fails_within_pool_timeout() -> None:
    with _silent_listener() as port:
        url = f"postgresql://nobody@127.0.0.1:{port}/nowhere?sslmode=disable"
        with Database.connect(url, pool_timeout=1.5, connect_timeout=2) as db:
            started = time.monotonic()
            with pytest.raises(UnavailableError):
                db.items.get(1)
            waited = time.monotonic() - started
    assert waited < 1.5 + 1.0, f"waited {waited:.1f} s"


def test_async_a_server_that_never_answers_fails_within_pool_timeout() -> None:
    async def scenario(port: int) -> float:
        url = f"postgresql://nobody@127.0.0.1:{port}/nowhere?sslmode=disable"
        async with AsyncDatabase.connect(url, pool_timeout=1.5, connect_timeout=2) as db:
            started = time.monotonic()
            with pytest.raises(UnavailableError):
                await db.items.get(1)
            return time.monotonic() - started

    with _silent_listener() as port:
        waited = asyncio.run(scenario(port))
    assert waited < 1.5 + 1.0, f"waited {waited:.1f} s"


def _stop_backends(url: str, name: str) -> list[int]:
    pids = _backends(url, name)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    return pids


def _resume(pids: list[int], url: str) -> None:
    for pid in pids:
        os.kill(pid, signal.SIGCONT)
    with psycopg.connect(url, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))  # waits for the exit


def _read(db: Database, category_id: int, *, in_transaction: bool) -> None:
    if not in_transaction:
        db.categories.get(category_id)
        return
    with db.transaction() as tx:
        tx.categories.get(category_id)


@pytest.mark.parametrize("in_transaction", [False, True])
def test_a_stopped_server_process_fails_within_the_deadline(
    gearbox_database_url: str, in_transaction: bool
) -> None:
    """SIGSTOP the server process of the pool's connection: the call ends with
    UnavailableError after statement_timeout plus the margin, and the next call works."""
    name = f"sigstop-{os.getpid()}-{in_transaction}"
    with Database.connect(
        gearbox_database_url, pool_size=1, statement_timeout=0.5, application_name=name
    ) as db:
        item_category = db.categories.create(name="Stopped")
        pids = _stop_backends(gearbox_database_url, name)
        try:
            started = time.monotonic()
            with pytest.raises(UnavailableError, match="did not answer") as info:
                _read(db, item_category.id, in_transaction=in_transaction)
            waited = time.monotonic() - started
        finally:
            _resume(pids, gearbox_database_url)
        assert not isinstance(info.value, StatementTimeoutError)
        assert waited < 0.5 + 1.0 + 1.0, f"waited {waited:.1f} s"
        assert db.categories.get(item_category.id).name == "Stopped"


def test_terminated_connections_are_replaced_without_a_failed_call(
    gearbox_database_url: str,
) -> None:
    """pg_terminate_backend on every pooled session (as a server restart does): the
    pool sees the goodbye waiting on each socket and replaces the connection, so
    no call fails, and no connection is probed with a round trip before."""
    name = f"terminated-{os.getpid()}"
    with Database.connect(gearbox_database_url, pool_size=2, application_name=name) as db:
        db.settings.set("k", "v")
        with psycopg.connect(gearbox_database_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (name,),
            )
        for _ in range(5):
            assert db.settings.get("k") == "v"
        with pytest.raises(NotFoundError):
            db.items.get(10**9)


def test_a_psycopg_connection_of_the_caller_joins_its_transaction(
    gearbox_database_url: str,
) -> None:
    """from_connection takes a psycopg connection: each operation a savepoint of the
    caller's open transaction, nothing committed by the library."""
    with psycopg.connect(gearbox_database_url) as connection:
        connection.execute("SELECT 1")  # the caller's transaction is open
        db = Database.from_connection(connection)
        category = db.categories.create(name="Joined")
        with pytest.raises(NotFoundError):
            db.items.get(10**9)  # a failed operation leaves the transaction usable
        assert db.categories.get(category.id).name == "Joined"
        connection.rollback()
        with pytest.raises(NotFoundError):
            db.categories.get(category.id)  # rolled back with the caller's transaction


def _is_open(pool: object) -> bool:
    return not getattr(pool, "closed", True)


def test_async_connect_is_a_plain_call_and_opens_lazily(gearbox_database_url: str) -> None:
    async def scenario() -> None:
        db = AsyncDatabase.connect(gearbox_database_url)
        assert db.pool is not None
        pool = db.pool
        assert pool.closed  # nothing opened yet
        await db.settings.set("k", "v")  # the first operation opens the pool
        assert _is_open(pool)
        assert await db.settings.get("k") == "v"
        await db.close()
        with pytest.raises(InvalidStateError):
            await db.settings.get("k")

    asyncio.run(scenario())


def test_more_callers_than_connections_are_all_served(gearbox_database_url: str) -> None:
    """Connections kept between operations never starve a caller waiting in the pool."""
    with Database.connect(gearbox_database_url, pool_size=2, max_overflow=0, pool_timeout=20) as db:
        barrier = threading.Barrier(12)
        errors: list[BaseException] = []

        def caller(n: int) -> None:
            try:
                barrier.wait(timeout=10)
                for round_ in range(30):
                    db.settings.set(f"c{n}", str(round_))
                    assert db.settings.get(f"c{n}") == str(round_)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=caller, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []


def test_async_more_callers_than_connections_are_all_served(gearbox_database_url: str) -> None:
    async def caller(db: AsyncDatabase, n: int, start: asyncio.Event) -> None:
        await start.wait()
        for round_ in range(30):
            await db.settings.set(f"c{n}", str(round_))
            assert await db.settings.get(f"c{n}") == str(round_)

    async def scenario() -> None:
        async with AsyncDatabase.connect(
            gearbox_database_url, pool_size=2, max_overflow=0, pool_timeout=20
        ) as db:
            start = asyncio.Event()
            tasks = [asyncio.create_task(caller(db, n, start)) for n in range(40)]
            start.set()
            await asyncio.gather(*tasks)

    asyncio.run(scenario())


def test_a_failed_flight_leaves_no_phantom_prepared_statement(gearbox_database_url: str) -> None:
    """A pipelined flight whose statement fails makes the server skip the rest of the
    flight: a statement psycopg would have prepared in it (here the COMMIT sent with
    the write) must not be taken as prepared."""
    with Database.connect(gearbox_database_url, pool_size=1, max_overflow=0) as db:
        category = db.categories.create(name="Phantom")
        item = db.items.create(name="Tarp", category_id=category.id)
        setup = db.setups.create(name="Overnighter")
        for _ in range(12):  # each run: one flight that fails, one that commits
            db.setups.add_item(setup.id, item.id)
            with pytest.raises(ConflictError):
                db.setups.add_item(setup.id, item.id)
            db.setups.remove_item(setup.id, item.id)
