"""The round-trip counting proxy (tests/wire.py) against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from time import perf_counter

import psycopg
import pytest

from tests.wire import RoundTripProxy


@pytest.fixture
def proxy(gearbox_database_url: str) -> Iterator[RoundTripProxy]:
    with RoundTripProxy(gearbox_database_url) as running:
        yield running


@pytest.fixture
def connection(proxy: RoundTripProxy) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(proxy.url, autocommit=True) as opened:
        proxy.reset()
        yield opened


def test_startup_is_counted_apart(proxy: RoundTripProxy) -> None:
    with psycopg.connect(proxy.url, autocommit=True) as opened:
        assert proxy.connections_opened == 1
        assert proxy.startup_round_trips >= 1
        assert proxy.round_trips == 0
        opened.execute("SELECT 1")
    assert proxy.round_trips == 1


def test_one_query_is_one_round_trip(
    proxy: RoundTripProxy, connection: psycopg.Connection[tuple[object, ...]]
) -> None:
    assert connection.execute("SELECT %s::int", (1,)).fetchone() == (1,)
    assert proxy.round_trips == 1
    assert proxy.statements == ["SELECT $1::int"]
    assert proxy.connections_opened == 0  # reset after the connection opened


def test_three_executes_are_three_round_trips(
    proxy: RoundTripProxy, connection: psycopg.Connection[tuple[object, ...]]
) -> None:
    for n in range(3):
        connection.execute("SELECT %s::int", (n,)).fetchone()
    assert proxy.round_trips == 3
    assert len(proxy.statements) == 3


def test_a_pipeline_is_one_round_trip(
    proxy: RoundTripProxy, connection: psycopg.Connection[tuple[object, ...]]
) -> None:
    with connection.pipeline():
        cursors = [connection.execute("SELECT %s::int", (n,)) for n in range(3)]
    assert [cursor.fetchone() for cursor in cursors] == [(0,), (1,), (2,)]
    assert proxy.round_trips == 1
    assert proxy.statements == ["SELECT $1::int"] * 3


def test_a_transaction_counts_begin_and_commit(
    proxy: RoundTripProxy, connection: psycopg.Connection[tuple[object, ...]]
) -> None:
    with connection.transaction():
        connection.execute("SELECT 1")
    assert proxy.round_trips == 3
    assert proxy.statements == ["BEGIN", "SELECT 1", "COMMIT"]


def test_prepared_statements_are_named_by_their_text(
    proxy: RoundTripProxy, connection: psycopg.Connection[tuple[object, ...]]
) -> None:
    trips = []
    for n in range(8):  # past psycopg's prepare_threshold (5): then Bind + Execute only
        proxy.reset()
        connection.execute("SELECT %s::int + 1", (n,)).fetchone()
        trips.append(proxy.round_trips)
        assert proxy.statements == ["SELECT $1::int + 1"]
    # outside a pipeline psycopg prepares (Parse) in a flight of its own, once
    assert trips == [1, 1, 1, 1, 1, 2, 1, 1]


async def test_async_connections_are_counted_too(proxy: RoundTripProxy) -> None:
    async with await psycopg.AsyncConnection.connect(proxy.url, autocommit=True) as opened:
        proxy.reset()
        await opened.execute("SELECT 1")
        async with opened.pipeline():
            await opened.execute("SELECT 2")
            await opened.execute("SELECT 3")
    assert proxy.round_trips == 2


def test_connections_are_counted(proxy: RoundTripProxy) -> None:
    for _ in range(2):
        psycopg.connect(proxy.url).close()
    assert proxy.connections_opened == 2


def test_delay_adds_two_delays_per_round_trip(gearbox_database_url: str) -> None:
    delay = 0.01
    with (
        RoundTripProxy(gearbox_database_url, delay=delay) as proxy,
        psycopg.connect(proxy.url, autocommit=True) as opened,
    ):
        proxy.reset()
        start = perf_counter()
        for _ in range(3):
            opened.execute("SELECT 1").fetchone()
        elapsed = perf_counter() - start
        with opened.pipeline():
            opened.execute("SELECT 2")
            opened.execute("SELECT 3")
    assert proxy.round_trips == 4
    assert elapsed >= 3 * 2 * delay  # a lower bound only: never a timed upper bound


def test_counting_without_recording_statements(gearbox_database_url: str) -> None:
    with (
        RoundTripProxy(gearbox_database_url, record_statements=False) as proxy,
        psycopg.connect(proxy.url, autocommit=True) as opened,
    ):
        proxy.reset()
        opened.execute("SELECT 1")
        with opened.pipeline():
            opened.execute("SELECT 2")
            opened.execute("SELECT 3")
    assert (proxy.round_trips, proxy.statements) == (2, [])
