"""Sessions repository: hashed tokens, expiry by an injected clock, sliding expiry."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db import AsyncDatabase, InvalidReferenceError, ValidationError
from gearbox_db.schema import sessions

from ._accounts import FakeClock, new_user, stored


async def _expiry(connection: AsyncConnection, token: str) -> list[object]:
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    return await stored(connection, sessions.c.expires_at, sessions.c.token_hash == token_hash)


async def test_create_returns_the_token_once_and_stores_its_hash(
    db: AsyncDatabase, gearbox_async_connection: AsyncConnection
) -> None:
    user = await new_user(db)
    new = await db.sessions.create(user.id)
    assert len(new.token) >= 43  # 256 bits of URL-safe base64
    assert new.token not in repr(new)
    assert new.session.user_id == user.id
    assert await db.sessions.validate(new.token) == user
    hashes = await stored(gearbox_async_connection, sessions.c.token_hash)
    assert hashes == [hashlib.sha256(new.token.encode()).hexdigest()]
    other = await db.sessions.create(user.id)
    assert other.token != new.token


async def test_expiry_follows_the_injected_clock(timed: AsyncDatabase, clock: FakeClock) -> None:
    user = await new_user(timed)
    new = await timed.sessions.create(user.id, ttl=timedelta(hours=1))
    assert new.session.expires_at == clock.current + timedelta(hours=1)
    clock.advance(timedelta(minutes=59, seconds=59))
    assert await timed.sessions.validate(new.token) == user
    clock.advance(timedelta(seconds=1))  # expires_at itself is already too late
    assert await timed.sessions.validate(new.token) is None


async def test_purge_expired_counts_what_it_removes(timed: AsyncDatabase, clock: FakeClock) -> None:
    user = await new_user(timed)
    short = await timed.sessions.create(user.id, ttl=timedelta(minutes=5))
    await timed.sessions.create(user.id, ttl=timedelta(minutes=5))
    long = await timed.sessions.create(user.id, ttl=timedelta(days=1))
    assert await timed.sessions.purge_expired() == 0
    clock.advance(timedelta(minutes=5))
    assert await timed.sessions.purge_expired() == 2
    assert await timed.sessions.purge_expired() == 0
    assert await timed.sessions.delete(short.token) is False  # already gone
    assert await timed.sessions.validate(long.token) == user


async def test_sliding_expiry_writes_at_most_once_per_interval(
    timed: AsyncDatabase, clock: FakeClock, gearbox_async_connection: AsyncConnection
) -> None:
    user = await new_user(timed)
    start = clock.current
    new = await timed.sessions.create(user.id, ttl=timedelta(hours=1))
    slide = {"renew_to": timedelta(hours=1), "renew_every": timedelta(minutes=10)}
    clock.advance(timedelta(minutes=9))
    assert await timed.sessions.validate(new.token, **slide) == user
    assert await _expiry(gearbox_async_connection, new.token) == [start + timedelta(hours=1)]
    clock.advance(timedelta(minutes=2))  # 11 minutes since the last write
    assert await timed.sessions.validate(new.token, **slide) == user
    renewed = start + timedelta(minutes=11, hours=1)
    assert await _expiry(gearbox_async_connection, new.token) == [renewed]
    clock.advance(timedelta(minutes=55))  # past the original expiry, before the renewed one
    assert await timed.sessions.validate(new.token) == user
    clock.advance(timedelta(minutes=10))
    assert await timed.sessions.validate(new.token, **slide) is None  # expired: no revival
    assert await _expiry(gearbox_async_connection, new.token) == [renewed]


async def test_sliding_never_shortens_a_session(
    timed: AsyncDatabase, gearbox_async_connection: AsyncConnection, clock: FakeClock
) -> None:
    user = await new_user(timed)
    new = await timed.sessions.create(user.id, ttl=timedelta(days=30))
    renew = {"renew_to": timedelta(hours=1), "renew_every": timedelta(minutes=1)}
    assert await timed.sessions.validate(new.token, **renew) == user
    expiry = [clock.current + timedelta(days=30)]
    assert await _expiry(gearbox_async_connection, new.token) == expiry


async def test_delete_and_logout_everywhere(db: AsyncDatabase) -> None:
    alice, bob = await new_user(db), await new_user(db, "bob")
    first, second = await db.sessions.create(alice.id), await db.sessions.create(alice.id)
    third = await db.sessions.create(alice.id)
    kept = await db.sessions.create(bob.id)
    assert await db.sessions.delete(first.token) is True
    assert await db.sessions.delete(first.token) is False
    assert await db.sessions.validate(first.token) is None
    assert await db.sessions.validate(second.token) == alice
    assert await db.sessions.delete_all_for_user(alice.id) == 2
    assert await db.sessions.validate(third.token) is None
    assert await db.sessions.delete_all_for_user(alice.id) == 0
    assert await db.sessions.validate(kept.token) == bob


async def test_unknown_tokens_and_users(db: AsyncDatabase) -> None:
    assert await db.sessions.validate("not a token") is None
    assert await db.sessions.validate("") is None
    assert await db.sessions.validate("\ud800 lone surrogate") is None
    with pytest.raises(InvalidReferenceError) as info:
        await db.sessions.create(10**9)
    assert info.value.constraint == "fk_sessions_user_id_users"
    assert info.value.__cause__ is not None


@pytest.mark.parametrize(
    "ttl",
    [timedelta(0), timedelta(seconds=-1), timedelta.max, 3600],
    ids=["zero", "negative", "huge", "int"],
)
async def test_bad_ttl_is_a_validation_error(db: AsyncDatabase, ttl: timedelta) -> None:
    user = await new_user(db)
    with pytest.raises(ValidationError):
        await db.sessions.create(user.id, ttl=ttl)
    with pytest.raises(ValidationError):
        await db.sessions.validate("token", renew_to=ttl)


async def test_a_token_must_be_a_string(db: AsyncDatabase) -> None:
    with pytest.raises(ValidationError):
        await db.sessions.validate(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        await db.sessions.delete(None)  # type: ignore[arg-type]
