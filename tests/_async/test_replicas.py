"""Read replicas against a real streaming standby (issue 14; async source of the sync twin).

``AsyncDatabase.connect(url, replicas=[...])``: reads really run on the
standby (``pg_is_in_recovery()`` on the connection that served them, and
rows the standby has not replayed are missing), writes and transactions on
the primary; read your writes with replay paused, within one object and
across objects through a token; a stopped standby and a lagging one send
reads to the primary without an error; the standby behind PgBouncer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import func, select

from gearbox_db import AsyncDatabase
from gearbox_db._replicas import ReplicaHealth, ReplicaPolicy
from gearbox_db.errors import ConfigurationError, NotFoundError, ValidationError
from gearbox_db.testing._replica import Standby
from tests.replica import pgbouncer_for

from ._connect import THROUGH_POOLER, connect

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(THROUGH_POOLER, reason="the standby is made of the direct server"),
]

IN_RECOVERY = select(func.pg_is_in_recovery())
#: A stored password (an argon2id PHC string, never checked here).
_ARGON2 = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"


class Clock:
    """Monotonic seconds the test moves by hand (lag and backoff without sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def routed(
    gearbox_database_url: str, gearbox_standby: Standby
) -> AsyncIterator[AsyncDatabase]:
    """A database on the test's database with the standby as its one replica."""
    gearbox_standby.wait_for_replay()  # the new database has reached the standby
    replica = gearbox_standby.url_of(gearbox_database_url)
    async with connect(gearbox_database_url, replicas=[replica], connect_timeout=2) as db:
        yield db


@pytest.fixture
async def other(gearbox_database_url: str) -> AsyncIterator[AsyncDatabase]:
    """A database on the primary alone: its writes are not ``routed``'s own."""
    async with connect(gearbox_database_url) as db:
        yield db


async def served_by_standby(db: AsyncDatabase) -> bool:
    """Whether the next read of ``db`` runs on the standby."""
    return bool(await db._executor.read.scalar(IN_RECOVERY))


def _name() -> str:
    return f"tents-{uuid.uuid4().hex[:8]}"


async def test_reads_run_on_the_standby_writes_on_the_primary(routed: AsyncDatabase) -> None:
    assert await served_by_standby(routed)
    assert not await routed._executor.scalar(IN_RECOVERY)  # not a read: the primary
    async with routed.transaction() as tx:  # a transaction: the primary, reads included
        assert not await tx._executor.read.scalar(IN_RECOVERY)


async def test_reads_show_what_the_standby_replayed(
    routed: AsyncDatabase, other: AsyncDatabase, gearbox_standby: Standby
) -> None:
    assert await served_by_standby(routed)
    gearbox_standby.pause_replay()
    category = await other.categories.create(name=_name())  # not routed's own write
    with pytest.raises(NotFoundError):
        await routed.categories.get(category.id)  # the standby has not replayed it
    assert await served_by_standby(routed)
    gearbox_standby.resume_replay()
    gearbox_standby.wait_for_replay()
    assert (await routed.categories.get(category.id)).name == category.name


async def test_read_your_writes_with_replay_paused(
    routed: AsyncDatabase, gearbox_database_url: str, gearbox_standby: Standby
) -> None:
    assert await served_by_standby(routed)
    gearbox_standby.pause_replay()
    category = await routed.categories.create(name=_name())
    assert (await routed.categories.get(category.id)).name == category.name
    assert not await served_by_standby(routed)  # not replayed yet: the primary
    token = routed.read_position()
    replica = gearbox_standby.url_of(gearbox_database_url)
    async with connect(gearbox_database_url, replicas=[replica]) as elsewhere:
        assert await served_by_standby(elsewhere)
        with pytest.raises(NotFoundError):  # no token: the standby, stale
            await elsewhere.categories.get(category.id)
        after = elsewhere.reading_after(token)
        assert (await after.categories.get(category.id)).name == category.name
        assert not await served_by_standby(after)
        gearbox_standby.resume_replay()
        gearbox_standby.wait_for_replay()
        assert await served_by_standby(after)  # replayed: the standby again
        assert (await after.categories.get(category.id)).name == category.name
    assert await served_by_standby(routed)


async def _read_back_after(db: AsyncDatabase, standby: Standby, write: Any) -> None:
    """Replay paused: ``write`` moves the read position, and reads go to the primary.

    (Each write here changes rows: a transaction that changes nothing writes
    no commit record, and then the position rightly stays where it was.)"""
    standby.resume_replay()
    standby.wait_for_replay()
    assert await served_by_standby(db)
    standby.pause_replay()
    before = db.read_position()
    await write()
    assert db.read_position() > before
    assert not await served_by_standby(db)


async def test_every_kind_of_write_moves_the_read_position(
    routed: AsyncDatabase, gearbox_standby: Standby
) -> None:
    async def in_transaction() -> None:
        async with routed.transaction() as tx:
            category = await tx.categories.create(name=_name())
        assert (await routed.categories.get(category.id)).name == category.name

    async def atomic() -> None:  # categories.delete: an atomic block of two statements
        category = await routed.categories.create(name=_name())
        await routed.categories.delete(category.id)

    async def batch() -> None:  # oauth.revoke_client: statements in one pipelined flight
        assert await routed.oauth.revoke_client("client-1") == 1

    async def one_statement() -> None:
        await routed.settings.set("theme", "dark")
        assert await routed.settings.get("theme") == "dark"

    await routed.oauth.register_client("client-1", redirect_uris=["https://a.example/cb"])
    user = await routed.users.create(username=_name(), password_hash=_ARGON2)
    await routed.oauth.issue_tokens("client-1", user.id)  # for the batch to revoke
    for write in (in_transaction, atomic, batch, one_statement):
        await _read_back_after(routed, gearbox_standby, write)


async def test_the_tracked_position_covers_the_commit(
    routed: AsyncDatabase, gearbox_database_url: str, gearbox_standby: Standby
) -> None:
    assert routed._router is not None
    for _ in range(20):
        category = await routed.categories.create(name=_name())
        position = routed._router.written
        gearbox_standby.wait_for_replay(str(position))  # that far, maybe no further
        with psycopg.connect(gearbox_standby.url_of(gearbox_database_url)) as conn:
            row = conn.execute("SELECT name FROM categories WHERE id = %s", (category.id,))
            assert row.fetchone() == (category.name,)


async def test_a_stopped_standby_sends_reads_to_the_primary(
    routed: AsyncDatabase, other: AsyncDatabase, gearbox_standby: Standby
) -> None:
    category = await other.categories.create(name=_name())
    gearbox_standby.wait_for_replay()
    assert (await routed.categories.get(category.id)).name == category.name
    assert await served_by_standby(routed)
    gearbox_standby.stop()
    assert (await routed.categories.get(category.id)).name == category.name  # no error
    assert not await served_by_standby(routed)
    assert (await routed.categories.list()) != ()


async def test_a_stopped_standby_is_used_again_once_back(
    routed: AsyncDatabase, gearbox_standby: Standby
) -> None:
    clock = Clock()
    routed._router.health = ReplicaHealth(1, ReplicaPolicy(retry_after=1), clock=clock)  # type: ignore[union-attr]
    assert await served_by_standby(routed)
    gearbox_standby.stop()
    assert not await served_by_standby(routed)
    gearbox_standby.start()
    assert not await served_by_standby(routed)  # within its backoff: not tried
    clock.now += 31  # past any backoff
    deadline = time.monotonic() + 30
    while not await served_by_standby(routed):  # the pool reconnects in the background
        assert time.monotonic() < deadline, "the standby was never used again"
        clock.now += 31
        await asyncio.sleep(0.05)  # polling the pool's reconnection, up to a deadline


async def test_a_lagging_standby_is_skipped_until_it_catches_up(
    routed: AsyncDatabase, other: AsyncDatabase, gearbox_standby: Standby
) -> None:
    clock = Clock()
    policy = ReplicaPolicy(max_replica_lag=10)
    routed._router.health = ReplicaHealth(1, policy, clock=clock)  # type: ignore[union-attr]
    gearbox_standby.pause_replay()
    await other.categories.create(name=_name())  # the primary moves on; routed wrote nothing
    assert await served_by_standby(routed)  # behind, but not for long yet
    clock.now += 9
    assert await served_by_standby(routed)
    clock.now += 2
    assert not await served_by_standby(routed)  # 11 s behind: the primary
    gearbox_standby.resume_replay()
    gearbox_standby.wait_for_replay()
    clock.now += 1
    assert await served_by_standby(routed)


async def test_replicas_behind_pgbouncer(
    gearbox_database_url: str, gearbox_standby: Standby
) -> None:
    gearbox_standby.wait_for_replay()
    dbname = str(conninfo_to_dict(gearbox_database_url)["dbname"])
    with pgbouncer_for(gearbox_standby, dbname) as replica:
        async with AsyncDatabase.connect(
            gearbox_database_url, replicas=[replica], prepared_statements=False
        ) as db:
            for _ in range(3):  # several transactions through the pooler
                assert await served_by_standby(db)
            gearbox_standby.pause_replay()
            category = await db.categories.create(name=_name())
            assert (await db.categories.get(category.id)).name == category.name
            assert not await served_by_standby(db)
            gearbox_standby.resume_replay()
            gearbox_standby.wait_for_replay()
            assert await served_by_standby(db)


async def test_tokens(routed: AsyncDatabase, other: AsyncDatabase) -> None:
    assert routed.reading_after(None) is routed
    with pytest.raises(ValidationError):
        routed.reading_after("rw1.not-a-position")
    before = routed.read_position()
    await routed.categories.create(name=_name())
    assert routed.read_position() > before  # fixed-width hex: orders as the position
    view = routed.reading_after(before)
    assert view.read_position() == routed.read_position()  # the later of the two
    await view.close()  # a view owns no pool
    assert await routed.categories.list() != ()
    assert other.read_position() == other.reading_after(None).read_position()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"replicas": "postgresql://replica/db"}, "replicas must be a list of URLs, got str"),
        ({"replicas": [], "max_replica_lag": 0}, "max_replica_lag must be a number of seconds"),
    ],
)
def test_replica_arguments_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        AsyncDatabase.connect("postgresql://primary/db", **options)
