"""OAuth repository: clients, authorization codes with PKCE, the code flow, racing redemptions."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db import (
    AsyncDatabase,
    AuthorizationError,
    ConflictError,
    InvalidReferenceError,
    NotFoundError,
    ValidationError,
)
from gearbox_db.records import IssuedTokens
from gearbox_db.schema import oauth_codes
from tests.concurrency import agather

from ._accounts import REDIRECT, FakeClock, grant, new_client, new_user, pkce_pair, redeem
from ._connect import connect


async def test_register_and_get_client(db: AsyncDatabase) -> None:
    uris = ["https://a.example/cb", "http://127.0.0.1:8123/cb", "com.example.app:/cb"]
    client = await db.oauth.register_client("mcp", redirect_uris=[*uris, uris[0]])
    assert (client.client_id, client.client_name, client.redirect_uris) == (
        "mcp",
        None,
        tuple(uris),
    )
    assert await db.oauth.get_client("mcp") == client
    named = await db.oauth.register_client("n", client_name="Näme 🎒", redirect_uris=uris[:1])
    assert named.client_name == "Näme 🎒"
    with pytest.raises(ConflictError) as info:
        await db.oauth.register_client("mcp", redirect_uris=uris)
    assert info.value.constraint == "uq_oauth_clients_client_id"
    assert info.value.__cause__ is not None
    with pytest.raises(NotFoundError):
        await db.oauth.get_client("nobody")


@pytest.mark.parametrize(
    "uris",
    [
        [],
        ["/relative/path"],
        ["https://a.example/cb#fragment"],
        ["http://a.example/cb"],  # plain http beyond loopback
        ["https:///no-host"],
        ["https://a.example/c b"],
        ["https://a.example/\x00"],
        "https://a.example/cb",  # a string, not a list
        # schemes that run or read something instead of redirecting
        ["javascript:alert(document.cookie)"],
        ["JavaScript://a.example/%0Aalert(1)"],
        ["data:text/html,<script>alert(1)</script>"],
        ["vbscript:msgbox(1)"],
        ["file:///etc/passwd"],
        ["https://a.example/cb", "FILE://host/share"],
    ],
)
async def test_bad_redirect_uris_are_refused(db: AsyncDatabase, uris: list[str]) -> None:
    with pytest.raises(ValidationError):
        await db.oauth.register_client("bad", redirect_uris=uris)


@pytest.mark.parametrize(
    ("registered", "requested"),
    [
        ("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb"),
        ("http://127.0.0.1:8123/cb", "http://127.0.0.1:40000/cb"),
        ("http://[::1]:8123/cb", "http://[::1]/cb"),
        ("http://localhost/cb", "http://localhost:9/cb"),
    ],
)
async def test_loopback_redirect_uris_match_any_port(
    db: AsyncDatabase, registered: str, requested: str
) -> None:
    """RFC 8252 section 7.3, RFC 9700 section 4.1.1: a native client picks a port
    per login; only the port may differ, and redemption wants the URI the code
    was issued with."""
    user = await new_user(db)
    await db.oauth.register_client("native", redirect_uris=[registered])
    verifier, challenge = pkce_pair()
    code = await db.oauth.issue_code(
        "native", user.id, redirect_uri=requested, code_challenge=challenge
    )
    assert await redeem(db, code, verifier, client_id="native", redirect_uri=requested)
    for other in (requested.replace("/cb", "/cb2"), "https://127.0.0.1/cb", registered + "/x"):
        with pytest.raises(AuthorizationError):
            await db.oauth.issue_code(
                "native", user.id, redirect_uri=other, code_challenge=challenge
            )


async def test_only_loopback_redirect_uris_ignore_the_port(db: AsyncDatabase) -> None:
    user = await new_user(db)
    await db.oauth.register_client("web", redirect_uris=["https://a.example:8443/cb"])
    with pytest.raises(AuthorizationError):
        await db.oauth.issue_code(
            "web", user.id, redirect_uri="https://a.example:9443/cb", code_challenge=pkce_pair()[1]
        )


async def test_code_flow_issues_a_new_family(db: AsyncDatabase) -> None:
    user = await new_user(db)
    await new_client(db)
    code, verifier = await grant(db, user, scope="gear:read")
    issued = await redeem(db, code, verifier)
    assert issued.access_token != issued.refresh_token
    assert issued.access_token not in repr(issued)
    assert issued.refresh_token not in repr(issued)
    token = issued.token
    assert (token.client_id, token.user_id, token.scope, token.revoked) == (
        "assistant",
        user.id,
        "gear:read",
        False,
    )
    assert token.family_id == token.id
    access = await db.oauth.validate_access(issued.access_token)
    assert access is not None
    assert (access.user, access.token) == (user, token)
    assert await db.oauth.validate_access(issued.refresh_token) is None


async def test_a_code_redeems_once(db: AsyncDatabase) -> None:
    user = await new_user(db)
    await new_client(db)
    code, verifier = await grant(db, user)
    await redeem(db, code, verifier)
    with pytest.raises(AuthorizationError):
        await redeem(db, code, verifier)


async def test_only_the_issuing_client_and_redirect_uriredeem(db: AsyncDatabase) -> None:
    user = await new_user(db)
    await new_client(db)
    await db.oauth.register_client("other", redirect_uris=[REDIRECT])
    code, verifier = await grant(db, user)
    with pytest.raises(AuthorizationError):
        await redeem(db, code, verifier, client_id="other")
    with pytest.raises(AuthorizationError):
        await redeem(db, code, verifier, redirect_uri=REDIRECT + "/")
    with pytest.raises(ValidationError):  # malformed: refused before the code is touched
        await redeem(db, code, "short")
    assert (await redeem(db, code, verifier)).token.user_id == user.id  # none of it burnt


async def test_a_wrong_verifier_burns_the_code(db: AsyncDatabase) -> None:
    user = await new_user(db)
    await new_client(db)
    code, verifier = await grant(db, user)
    with pytest.raises(AuthorizationError, match="PKCE"):
        await redeem(db, code, pkce_pair()[0])
    with pytest.raises(AuthorizationError):
        await redeem(db, code, verifier)


async def test_pkce_matches_rfc_7636_appendix_b(db: AsyncDatabase) -> None:
    user = await new_user(db)
    await new_client(db)
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    code = await db.oauth.issue_code(
        "assistant", user.id, redirect_uri=REDIRECT, code_challenge=challenge
    )
    assert await redeem(db, code, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")


async def test_bad_lifetimes_do_not_burn_the_code(db: AsyncDatabase) -> None:
    user = await new_user(db)
    await new_client(db)
    code, verifier = await grant(db, user)
    with pytest.raises(ValidationError):
        await db.oauth.redeem_code(
            code,
            client_id="assistant",
            redirect_uri=REDIRECT,
            code_verifier=verifier,
            refresh_ttl=timedelta(0),
        )
    assert await redeem(db, code, verifier)


async def test_imported_plain_codes_do_notredeem(
    db: AsyncDatabase, gearbox_async_connection: AsyncConnection
) -> None:
    """Codes of the old application with method ``plain`` (challenge = verifier):
    OAuth 2.1 wants S256, so they are refused."""
    user = await new_user(db)
    await new_client(db)
    verifier = pkce_pair()[0]
    row = {"client_id": "assistant", "user_id": user.id, "redirect_uri": REDIRECT}
    await gearbox_async_connection.execute(
        oauth_codes.insert().values(
            code_hash=hashlib.sha256(b"legacy-code").hexdigest(),
            code_challenge=verifier,
            code_challenge_method="plain",
            expires_at=func.now() + timedelta(minutes=5),
            **row,
        )
    )
    with pytest.raises(AuthorizationError):
        await redeem(db, "legacy-code", verifier)


async def test_codes_expire(timed: AsyncDatabase, clock: FakeClock) -> None:
    user = await new_user(timed)
    await new_client(timed)
    code, verifier = await grant(timed, user)
    clock.advance(timedelta(minutes=10))  # the default lifetime
    with pytest.raises(AuthorizationError):
        await redeem(timed, code, verifier)


async def test_issue_code_checks_client_uri_user_and_challenge(db: AsyncDatabase) -> None:
    user = await new_user(db)
    await new_client(db)
    challenge = pkce_pair()[1]
    with pytest.raises(AuthorizationError):
        await db.oauth.issue_code(
            "assistant", user.id, redirect_uri="https://evil.example/cb", code_challenge=challenge
        )
    with pytest.raises(InvalidReferenceError):
        await db.oauth.issue_code(
            "nobody", user.id, redirect_uri=REDIRECT, code_challenge=challenge
        )
    with pytest.raises(InvalidReferenceError) as info:
        await db.oauth.issue_code(
            "assistant", 10**9, redirect_uri=REDIRECT, code_challenge=challenge
        )
    assert info.value.constraint == "fk_oauth_codes_user_id_users"
    for method, bad in (("plain", challenge), ("S256", "too-short"), ("S256", challenge + "=")):
        with pytest.raises(ValidationError):
            await db.oauth.issue_code(
                "assistant",
                user.id,
                redirect_uri=REDIRECT,
                code_challenge=bad,
                code_challenge_method=method,
            )


@pytest.mark.parametrize("contenders", [2, 8])
async def test_concurrent_redemptions_of_one_code(
    gearbox_database_url: str, contenders: int
) -> None:
    """Exactly one of several simultaneous redemptions gets tokens; the others
    get AuthorizationError (never a driver error). The others are second
    presentations of a redeemed code, indistinguishable from a replay: they
    revoke the winner's tokens (documented, like racing refreshes)."""
    async with connect(gearbox_database_url, pool_size=8) as db:
        user = await new_user(db)
        await new_client(db)
        code, verifier = await grant(db, user)
        barrier = asyncio.Barrier(contenders)

        async def contend() -> IssuedTokens:
            await barrier.wait()
            return await redeem(db, code, verifier)

        results = await agather(*[contend] * contenders)
        winners = [r for r in results if isinstance(r, IssuedTokens)]
        losers = [r for r in results if not isinstance(r, IssuedTokens)]
        assert len(winners) == 1, results
        assert all(isinstance(r, AuthorizationError) for r in losers), losers
        assert await db.oauth.validate_access(winners[0].access_token) is None
        with pytest.raises(AuthorizationError):
            await db.oauth.refresh(winners[0].refresh_token, client_id="assistant")


async def test_a_replayed_code_revokes_the_tokens_of_its_first_redemption(
    db: AsyncDatabase,
) -> None:
    """RFC 6749 section 4.1.2, RFC 9700 section 4.5: the second presentation of a
    code is refused and revokes what the first one issued, rotated tokens included;
    tokens of other codes are untouched."""
    user = await new_user(db)
    await new_client(db)
    code, verifier = await grant(db, user)
    first = await redeem(db, code, verifier)
    rotated = await db.oauth.refresh(first.refresh_token, client_id="assistant")
    other = await redeem(db, *await grant(db, user))
    with pytest.raises(AuthorizationError, match="already redeemed"):
        await redeem(db, code, verifier)
    assert await db.oauth.validate_access(rotated.access_token) is None
    with pytest.raises(AuthorizationError):
        await db.oauth.refresh(rotated.refresh_token, client_id="assistant")
    assert await db.oauth.validate_access(other.access_token) is not None
    assert rotated.token.family_id == first.token.id


async def test_a_replay_by_another_client_or_uri_revokes_too(db: AsyncDatabase) -> None:
    user = await new_user(db)
    await new_client(db)
    await db.oauth.register_client("other", redirect_uris=[REDIRECT])
    code, verifier = await grant(db, user)
    first = await redeem(db, code, verifier)
    with pytest.raises(AuthorizationError, match="already redeemed"):
        await redeem(db, code, verifier, client_id="other")
    assert await db.oauth.validate_access(first.access_token) is None


async def test_a_refused_first_presentation_revokes_nothing(db: AsyncDatabase) -> None:
    user = await new_user(db)
    await new_client(db)
    code, verifier = await grant(db, user)
    kept = await redeem(db, *await grant(db, user))
    with pytest.raises(AuthorizationError, match="another client or redirect_uri"):
        await redeem(db, code, verifier, redirect_uri="https://elsewhere.example/cb")
    assert await redeem(db, code, verifier)  # the code was not burnt
    assert await db.oauth.validate_access(kept.access_token) is not None
