"""Round trips on the wire (a counting proxy between the pool and the server): the
hot operations are one each, transactions pipeline their BEGIN, batches are one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from gearbox_db import AsyncDatabase
from gearbox_db.records import Classification
from tests.wire import RoundTripProxy

from ._accounts import code_flow

Operation = Callable[[AsyncDatabase], Awaitable[Any]]


@pytest.fixture(params=[True, False], ids=["prepared", "unprepared"])
async def wired(
    gearbox_database_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[AsyncDatabase, RoundTripProxy]]:
    """A pool of one connection through the counting proxy (prepared statements on or off)."""
    with RoundTripProxy(gearbox_database_url) as proxy:
        async with AsyncDatabase.connect(
            proxy.url, pool_size=1, max_overflow=0, prepared_statements=request.param
        ) as db:
            yield db, proxy


async def _trips(db: AsyncDatabase, proxy: RoundTripProxy, operation: Operation) -> int:
    """Round trips of one call of ``operation``, after ten warm-up calls (psycopg
    prepares a statement at its sixth run on a connection: a flight of its own, once)."""
    for _ in range(10):
        await operation(db)
    proxy.reset()
    await operation(db)
    return proxy.round_trips


async def _world(db: AsyncDatabase) -> dict[str, Any]:
    category = await db.categories.create(name="Shelter")
    item = await db.items.create(name="Tent", category_id=category.id, weight_grams=1100)
    setup = await db.setups.create(name="Weekend")
    await db.setups.add_item(setup.id, item.id)
    await db.settings.set("unit", "g")
    user, tokens = await code_flow(db)
    session = await db.sessions.create(user.id)
    key = await db.api_keys.create(user.id, name="cli")
    return {
        "category": category.id,
        "item": item.id,
        "setup": setup.id,
        "session": session.token,
        "key": key.key,
        "access": tokens.access_token,
        "user": user.id,
    }


HOT: dict[str, Callable[[dict[str, Any]], Operation]] = {
    "items.get": lambda w: lambda db: db.items.get(w["item"]),
    "items.create": lambda w: lambda db: db.items.create(name="Pole", category_id=w["category"]),
    "items.list": lambda w: lambda db: db.items.list(limit=20),
    "settings.get": lambda w: lambda db: db.settings.get("unit"),
    "sessions.validate": lambda w: lambda db: db.sessions.validate(w["session"]),
    "api_keys.authenticate": lambda w: lambda db: db.api_keys.authenticate(w["key"]),
    "oauth.validate_access": lambda w: lambda db: db.oauth.validate_access(w["access"]),
    "setups.totals": lambda w: lambda db: db.setups.totals(w["setup"]),
}


@pytest.mark.parametrize("name", sorted(HOT))
async def test_a_hot_operation_is_one_round_trip(
    wired: tuple[AsyncDatabase, RoundTripProxy], name: str
) -> None:
    db, proxy = wired
    operation = HOT[name](await _world(db))
    assert await _trips(db, proxy, operation) == 1
    assert proxy.connections_opened == 0  # the pool's connection, no probe, no reconnect


async def test_a_transaction_sends_its_begin_with_its_first_statement(
    wired: tuple[AsyncDatabase, RoundTripProxy],
) -> None:
    db, proxy = wired
    world = await _world(db)

    async def two_reads(db: AsyncDatabase) -> None:
        async with db.transaction() as tx:
            await tx.items.get(world["item"])
            await tx.settings.get("unit")

    assert await _trips(db, proxy, two_reads) == 3  # BEGIN + get, get, COMMIT
    assert proxy.statements[0] == "BEGIN"


async def test_a_batch_with_its_begin_and_commit_is_one_round_trip(
    wired: tuple[AsyncDatabase, RoundTripProxy],
) -> None:
    db, proxy = wired
    world = await _world(db)

    async def revoke_all(db: AsyncDatabase) -> None:
        await db.oauth.revoke_client("assistant")

    assert await _trips(db, proxy, revoke_all) == 1, proxy.statements
    assert proxy.statements[0] == "BEGIN"
    assert proxy.statements[-1] == "COMMIT"
    assert world["user"]


async def test_the_statement_timeout_travels_with_the_statement(
    gearbox_database_url: str,
) -> None:
    """With a statement timeout, its set_config goes in the statement's own flight."""
    with RoundTripProxy(gearbox_database_url) as proxy:
        async with AsyncDatabase.connect(
            proxy.url, pool_size=1, max_overflow=0, statement_timeout=5
        ) as db:
            world = await _world(db)
            assert await _trips(db, proxy, HOT["items.get"](world)) == 1, proxy.statements
            assert len(proxy.statements) == 2
            assert "set_config('statement_timeout'" in proxy.statements[0]


async def test_a_locking_write_sends_its_commit_with_its_last_statement(
    wired: tuple[AsyncDatabase, RoundTripProxy],
) -> None:
    """Lock, then write: BEGIN goes with the lock, COMMIT with the write."""
    db, proxy = wired
    world = await _world(db)
    classes: Iterator[Classification] = iter(["worn", "base"] * 20)

    async def reclassify(db: AsyncDatabase) -> None:
        await db.setups.set_classification(
            world["setup"], world["item"], classification=next(classes)
        )

    assert await _trips(db, proxy, reclassify) == 2
    assert proxy.statements[0] == "BEGIN"
    assert proxy.statements[-1] == "COMMIT"
