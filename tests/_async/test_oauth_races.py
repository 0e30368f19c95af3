"""OAuth revocation racing rotation: a thief refreshes a stolen chain in a loop
while the legitimate side detects reuse, revokes the token, revokes the client,
or the user changes their password. Real concurrent connections, started by a
barrier, 20+ rounds; after each round no token of the family may still work."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

import pytest

from gearbox_db import AsyncDatabase, AuthorizationError
from gearbox_db.records import IssuedTokens
from tests.concurrency import agather

from ._accounts import LEGACY_HASH, grant, new_client, new_user, redeem
from ._connect import connect

ROUNDS = 20
#: Refreshes the thief attempts per round (it stops at the first refusal).
THEFT_LOOP = 40

Revocation = Callable[[AsyncDatabase, IssuedTokens], Awaitable[object]]


async def _thief(db: AsyncDatabase, barrier: asyncio.Barrier, stolen: IssuedTokens) -> list[str]:
    """Refresh the stolen chain until refused; every access token obtained."""
    current, obtained = stolen, [stolen.access_token]
    await barrier.wait()
    for _ in range(THEFT_LOOP):
        try:
            current = await db.oauth.refresh(current.refresh_token, client_id="assistant")
        except AuthorizationError:
            break
        obtained.append(current.access_token)
    return obtained


async def _reuse(db: AsyncDatabase, original: IssuedTokens) -> object:
    """The legitimate client presents its (already rotated) refresh token."""
    with pytest.raises(AuthorizationError, match="reuse") as caught:
        await db.oauth.refresh(original.refresh_token, client_id="assistant")
    assert "(0 were still live)" not in str(caught.value)
    return str(caught.value)


async def _revoke(db: AsyncDatabase, original: IssuedTokens) -> object:
    revoked = await db.oauth.revoke(original.access_token, client_id="assistant")
    assert revoked is True  # the thief's newest token was live
    return revoked


async def _revoke_client(db: AsyncDatabase, original: IssuedTokens) -> object:
    count = await db.oauth.revoke_client("assistant")
    assert count >= 1  # the thief's newest token was live
    return count


async def _change_password(db: AsyncDatabase, original: IssuedTokens) -> object:
    await db.users.change_password(original.token.user_id, password_hash=LEGACY_HASH)
    return None


async def _legitimate(
    db: AsyncDatabase, barrier: asyncio.Barrier, revocation: Revocation, original: IssuedTokens
) -> object:
    await barrier.wait()
    return await revocation(db, original)


async def _race(db: AsyncDatabase, revocation: Revocation) -> list[str]:
    """``ROUNDS`` races of a thief refreshing against ``revocation``; the stolen access
    tokens still valid afterwards (none, when revocation wins every race)."""
    survivors: list[str] = []
    user = await new_user(db, "victim")
    await new_client(db)
    for _ in range(ROUNDS):
        original = await redeem(db, *await grant(db, user))
        # The thief stole the refresh token and used it first: the client's copy is rotated.
        stolen = await db.oauth.refresh(original.refresh_token, client_id="assistant")
        barrier = asyncio.Barrier(2)
        thief, outcome = await agather(
            partial(_thief, db, barrier, stolen),
            partial(_legitimate, db, barrier, revocation, original),
        )
        assert not isinstance(outcome, BaseException), outcome
        assert isinstance(thief, list), thief
        survivors += [t for t in thief if await db.oauth.validate_access(t) is not None]
    return survivors


async def test_reuse_detection_racing_a_refresher_leaves_no_token(
    gearbox_database_url: str,
) -> None:
    async with connect(gearbox_database_url) as db:
        assert await _race(db, _reuse) == []


async def test_revoke_racing_a_refresher_leaves_no_token(gearbox_database_url: str) -> None:
    async with connect(gearbox_database_url) as db:
        assert await _race(db, _revoke) == []


async def test_revoke_client_racing_a_refresher_leaves_no_token(gearbox_database_url: str) -> None:
    async with connect(gearbox_database_url) as db:
        assert await _race(db, _revoke_client) == []


async def test_password_change_racing_a_refresher_leaves_no_token(
    gearbox_database_url: str,
) -> None:
    async with connect(gearbox_database_url) as db:
        assert await _race(db, _change_password) == []
