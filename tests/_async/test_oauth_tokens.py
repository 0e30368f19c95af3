"""OAuth repository: tokens, rotation, reuse detection, revocation, purge, racing refreshes."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db import AsyncDatabase, AuthorizationError
from gearbox_db.records import IssuedTokens, User
from gearbox_db.schema import oauth_codes, oauth_tokens
from tests.concurrency import agather

from ._accounts import (
    REDIRECT,
    FakeClock,
    code_flow,
    grant,
    new_client,
    new_user,
    redeem,
    stored,
)
from ._connect import connect


async def test_codes_and_tokens_are_stored_as_hashes_only(
    db: AsyncDatabase, gearbox_async_connection: AsyncConnection
) -> None:
    user = await new_user(db)
    await new_client(db)
    code, verifier = await grant(db, user)
    issued = await redeem(db, code, verifier)
    sha = [hashlib.sha256(raw.encode()).hexdigest() for raw in (code, *_raw(issued))]
    assert await stored(gearbox_async_connection, oauth_codes.c.code_hash) == [sha[0]]
    columns = (oauth_tokens.c.access_token_hash, oauth_tokens.c.refresh_token_hash)
    assert [await stored(gearbox_async_connection, c) for c in columns] == [[sha[1]], [sha[2]]]


def _raw(issued: IssuedTokens) -> tuple[str, str]:
    return issued.access_token, issued.refresh_token


async def test_refresh_rotates(db: AsyncDatabase) -> None:
    user, first = await code_flow(db)
    second = await db.oauth.refresh(first.refresh_token, client_id="assistant")
    assert second.token.family_id == first.token.id != second.token.id
    assert second.token.scope == first.token.scope
    assert await db.oauth.validate_access(first.access_token) is None
    access = await db.oauth.validate_access(second.access_token)
    assert access is not None
    assert access.user == user
    third = await db.oauth.refresh(second.refresh_token, client_id="assistant")
    assert third.token.family_id == first.token.id


async def test_reuse_of_a_rotated_refresh_token_revokes_the_family(db: AsyncDatabase) -> None:
    """RFC 9700 section 4.14.2: the rotated token is presented again (by a thief
    or by the client): every token of the family dies, the newest included."""
    _, first = await code_flow(db)
    second = await db.oauth.refresh(first.refresh_token, client_id="assistant")
    _, unrelated = await _tokens_for_another_user(db)
    with pytest.raises(AuthorizationError, match="reuse"):
        await db.oauth.refresh(first.refresh_token, client_id="assistant")
    assert await db.oauth.validate_access(second.access_token) is None
    with pytest.raises(AuthorizationError):
        await db.oauth.refresh(second.refresh_token, client_id="assistant")
    assert await db.oauth.validate_access(unrelated.access_token) is not None


async def _tokens_for_another_user(db: AsyncDatabase) -> tuple[User, IssuedTokens]:
    user = await new_user(db, "bob")
    return user, await db.oauth.issue_tokens("assistant", user.id)


async def test_refresh_by_another_client_fails_without_revoking(db: AsyncDatabase) -> None:
    _, first = await code_flow(db)
    await db.oauth.register_client("other", redirect_uris=[REDIRECT])
    with pytest.raises(AuthorizationError):
        await db.oauth.refresh(first.refresh_token, client_id="other")
    with pytest.raises(AuthorizationError):
        await db.oauth.refresh("never issued", client_id="assistant")
    assert await db.oauth.validate_access(first.access_token) is not None
    await db.oauth.refresh(first.refresh_token, client_id="assistant")


async def test_tokens_expire(timed: AsyncDatabase, clock: FakeClock) -> None:
    _, first = await code_flow(timed)
    clock.advance(timedelta(hours=1))  # the default access lifetime
    assert await timed.oauth.validate_access(first.access_token) is None
    second = await timed.oauth.refresh(first.refresh_token, client_id="assistant")
    assert await timed.oauth.validate_access(second.access_token) is not None
    clock.advance(timedelta(days=30))  # the default refresh lifetime
    with pytest.raises(AuthorizationError):
        await timed.oauth.refresh(second.refresh_token, client_id="assistant")


async def test_revoke_by_access_or_refresh_token(db: AsyncDatabase) -> None:
    _, first = await code_flow(db)
    assert await db.oauth.revoke(first.access_token, client_id="assistant") is True
    assert await db.oauth.validate_access(first.access_token) is None
    with pytest.raises(AuthorizationError):
        await db.oauth.refresh(first.refresh_token, client_id="assistant")
    # nothing left to revoke
    assert await db.oauth.revoke(first.access_token, client_id="assistant") is False
    assert await db.oauth.revoke("unknown", client_id="assistant") is False
    _, other = await _tokens_for_another_user(db)
    assert await db.oauth.revoke(other.refresh_token, client_id="assistant") is True
    assert await db.oauth.validate_access(other.access_token) is None


async def test_revoke_refuses_a_token_of_another_client(db: AsyncDatabase) -> None:
    """RFC 7009 section 2.1: the token must have been issued to the requesting client."""
    _, first = await code_flow(db)
    await db.oauth.register_client("other", redirect_uris=[REDIRECT])
    for token in (first.access_token, first.refresh_token):
        with pytest.raises(AuthorizationError, match="another client"):
            await db.oauth.revoke(token, client_id="other")
    assert await db.oauth.validate_access(first.access_token) is not None
    assert await db.oauth.revoke(first.refresh_token, client_id="assistant") is True


async def test_revoke_client_revokes_its_tokens_and_burns_its_codes(db: AsyncDatabase) -> None:
    user, first = await code_flow(db)
    second = await db.oauth.issue_tokens("assistant", user.id)
    code, verifier = await grant(db, user)
    await db.oauth.register_client("other", redirect_uris=[REDIRECT])
    kept = await db.oauth.issue_tokens("other", user.id)
    assert await db.oauth.revoke_client("assistant") == 2
    assert await db.oauth.validate_access(first.access_token) is None
    assert await db.oauth.validate_access(second.access_token) is None
    with pytest.raises(AuthorizationError):
        await redeem(db, code, verifier)
    assert await db.oauth.validate_access(kept.access_token) is not None
    assert await db.oauth.revoke_client("assistant") == 0


async def test_purge_expired_keeps_rotated_tokens_until_their_refresh_expires(
    timed: AsyncDatabase, clock: FakeClock
) -> None:
    user, first = await code_flow(timed)
    await grant(timed, user)
    hour, day = timedelta(hours=1), timedelta(days=1)
    second = await timed.oauth.refresh(
        first.refresh_token, client_id="assistant", access_ttl=hour, refresh_ttl=day
    )
    assert await timed.oauth.purge_expired() == 0
    clock.advance(timedelta(minutes=10))
    assert await timed.oauth.purge_expired() == 2  # both codes, used or not
    clock.advance(2 * day)  # second fully expired; first's refresh (30 days) still live
    assert await timed.oauth.purge_expired() == 1
    with pytest.raises(AuthorizationError, match="reuse"):  # first is still detected
        await timed.oauth.refresh(first.refresh_token, client_id="assistant")
    clock.advance(timedelta(days=30))
    assert await timed.oauth.purge_expired() == 1
    assert second.token.family_id == first.token.id


async def test_concurrent_refreshes_with_one_token(gearbox_database_url: str) -> None:
    """Exactly one of simultaneous refreshes rotates; the others see a rotated
    token, which is reuse: the family is revoked (documented behaviour)."""
    contenders = 4
    async with connect(gearbox_database_url) as db:
        _, first = await code_flow(db)
        barrier = asyncio.Barrier(contenders)

        async def refresh() -> IssuedTokens:
            await barrier.wait()
            return await db.oauth.refresh(first.refresh_token, client_id="assistant")

        results = await agather(*[refresh] * contenders)
        winners = [r for r in results if isinstance(r, IssuedTokens)]
        losers = [r for r in results if not isinstance(r, IssuedTokens)]
        assert len(winners) == 1, results
        assert all(isinstance(r, AuthorizationError) for r in losers), losers
        assert await db.oauth.validate_access(winners[0].access_token) is None
