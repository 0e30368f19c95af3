"""Absolute lifetimes (refresh families, sliding sessions, API keys), a password
change ending what the old password gave, and API key use recorded at most once
per interval. Time moves by an injected clock, never by sleeping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db import AsyncDatabase, AuthorizationError

from ._accounts import LEGACY_HASH, FakeClock, code_flow, grant, new_user, redeem

DAY = timedelta(days=1)


async def test_a_refresh_family_ends_90_days_after_its_code(
    timed: AsyncDatabase, clock: FakeClock
) -> None:
    """Rotating every 20 days (inside the 30-day refresh lifetime) does not keep a
    family alive past its absolute end: no token outlives it, the last refresh fails."""
    start = clock.current
    _, issued = await code_flow(timed)
    assert issued.token.family_expires_at == start + 90 * DAY
    for _ in range(4):  # days 20, 40, 60, 80
        clock.advance(20 * DAY)
        issued = await timed.oauth.refresh(issued.refresh_token, client_id="assistant")
        token = issued.token
        assert token.family_expires_at == start + 90 * DAY
        assert token.refresh_expires_at is not None
        assert token.expires_at <= token.refresh_expires_at <= token.family_expires_at
    clock.advance(10 * DAY)  # day 90
    assert await timed.oauth.validate_access(issued.access_token) is None
    with pytest.raises(AuthorizationError):
        await timed.oauth.refresh(issued.refresh_token, client_id="assistant")


async def test_family_lifetime_can_be_chosen(timed: AsyncDatabase, clock: FakeClock) -> None:
    user, _ = await code_flow(timed)
    code, verifier = await grant(timed, user)
    short = await timed.oauth.redeem_code(
        code,
        client_id="assistant",
        redirect_uri="https://assistant.example/callback",
        code_verifier=verifier,
        family_ttl=2 * DAY,
    )
    assert short.token.refresh_expires_at == clock.current + 2 * DAY  # capped, not 30 days
    direct = await timed.oauth.issue_tokens("assistant", user.id, family_ttl=timedelta(minutes=5))
    assert direct.token.expires_at == clock.current + timedelta(minutes=5)  # not 1 hour


async def test_a_sliding_session_ends_90_days_after_its_creation(
    timed: AsyncDatabase, clock: FakeClock
) -> None:
    user = await new_user(timed)
    new = await timed.sessions.create(user.id, ttl=DAY)
    start = clock.current
    for _ in range(89 * 2):  # used twice a day for 89 days: renewed each time
        clock.advance(DAY / 2)
        assert await timed.sessions.validate(new.token, renew_to=DAY, renew_every=DAY / 4)
    clock.advance(DAY - timedelta(seconds=1))  # 1 second before the absolute end
    assert await timed.sessions.validate(new.token, renew_to=DAY, renew_every=DAY / 4) == user
    clock.advance(timedelta(seconds=1))
    assert clock.current == start + 90 * DAY
    assert await timed.sessions.validate(new.token, renew_to=DAY) is None


async def test_api_keys_expire(timed: AsyncDatabase, clock: FakeClock) -> None:
    user = await new_user(timed)
    default = await timed.api_keys.create(user.id, name="default")
    assert default.api_key.expires_at == clock.current + 365 * DAY
    short = await timed.api_keys.create(user.id, name="short", ttl=DAY)
    clock.advance(DAY - timedelta(seconds=1))
    assert await timed.api_keys.authenticate(short.key) == user
    clock.advance(timedelta(seconds=1))
    assert await timed.api_keys.authenticate(short.key) is None
    clock.advance(364 * DAY)
    assert await timed.api_keys.authenticate(default.key) is None


async def _ctid(connection: AsyncConnection, key_id: int) -> str:
    """The physical place of the key's row version: every UPDATE moves it."""
    query = text("SELECT ctid::text FROM api_keys WHERE id = :id")
    return str((await connection.execute(query, {"id": key_id})).scalar_one())


async def test_key_use_is_written_at_most_once_per_interval(
    timed: AsyncDatabase, clock: FakeClock, gearbox_async_connection: AsyncConnection
) -> None:
    user = await new_user(timed)
    new = await timed.api_keys.create(user.id, name="shared by workers")
    key_id, first_use = new.api_key.id, clock.current
    assert await timed.api_keys.authenticate(new.key) == user
    written = await _ctid(gearbox_async_connection, key_id)
    for _ in range(4):  # four more uses within 5 minutes: no write at all
        clock.advance(timedelta(minutes=1))
        assert await timed.api_keys.authenticate(new.key) == user
    assert await _ctid(gearbox_async_connection, key_id) == written
    (listed,) = await timed.api_keys.list_for_user(user.id)
    assert listed.last_used_at == first_use
    clock.advance(timedelta(minutes=1))  # 5 minutes after the recorded use
    assert await timed.api_keys.authenticate(new.key) == user
    assert await _ctid(gearbox_async_connection, key_id) != written
    (listed,) = await timed.api_keys.list_for_user(user.id)
    assert listed.last_used_at == clock.current


async def test_changing_the_password_ends_other_sessions_and_oauth_tokens(
    db: AsyncDatabase,
) -> None:
    user, tokens = await code_flow(db)
    code, verifier = await grant(db, user)  # issued, not yet redeemed
    current_session = await db.sessions.create(user.id)
    other_session = await db.sessions.create(user.id)
    key = await db.api_keys.create(user.id, name="script")
    bob = await new_user(db, "bob")
    bobs = await db.sessions.create(bob.id)
    await db.users.change_password(
        user.id, password_hash=LEGACY_HASH, keep_session=current_session.token
    )
    assert await db.sessions.validate(current_session.token) == user
    assert await db.sessions.validate(other_session.token) is None
    assert await db.oauth.validate_access(tokens.access_token) is None
    with pytest.raises(AuthorizationError):
        await db.oauth.refresh(tokens.refresh_token, client_id="assistant")
    with pytest.raises(AuthorizationError):
        await redeem(db, code, verifier)  # the pending code is burnt
    assert await db.api_keys.authenticate(key.key) == user  # kept by default
    assert await db.sessions.validate(bobs.token) == bob  # other users untouched


async def test_changing_the_password_can_revoke_api_keys(db: AsyncDatabase) -> None:
    user = await new_user(db)
    session = await db.sessions.create(user.id)
    key = await db.api_keys.create(user.id, name="script")
    await db.users.change_password(user.id, password_hash=LEGACY_HASH, revoke_api_keys=True)
    assert await db.api_keys.authenticate(key.key) is None
    assert await db.sessions.validate(session.token) is None  # no session kept
