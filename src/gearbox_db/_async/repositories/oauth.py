"""The oauth repository."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Final

from gearbox_db import _secrets
from gearbox_db._async.executor import AsyncExecutor
from gearbox_db._queries import oauth as q
from gearbox_db._queries import oauth_revoke as qr
from gearbox_db._queries import oauth_tokens as qt
from gearbox_db._queries._common import Clock, at, now
from gearbox_db.errors import AuthorizationError
from gearbox_db.records import AccessGrant, IssuedTokens, OAuthClient

#: Lifetime of an authorization code (RFC 6749 section 4.1.2: 10 minutes at most).
DEFAULT_CODE_TTL: Final = timedelta(minutes=10)
#: Lifetimes of an access token and of a refresh token.
DEFAULT_ACCESS_TTL: Final = timedelta(hours=1)
DEFAULT_REFRESH_TTL: Final = timedelta(days=30)
#: Absolute lifetime of a refresh family: rotation never extends a token past it.
DEFAULT_FAMILY_TTL: Final = timedelta(days=90)


class AsyncOAuthRepository:
    """OAuth 2.1 for the MCP server: clients, authorization codes with PKCE (S256
    only), access and refresh tokens with rotation and reuse detection.

    Codes and tokens are returned raw once and stored as SHA-256 only. A
    credential that grants nothing raises :class:`~gearbox_db.errors.AuthorizationError`
    (OAuth's ``invalid_grant``). Expiry is judged by the database's clock, or by
    the clock the database object was given.
    """

    def __init__(self, executor: AsyncExecutor, clock: Clock | None) -> None:
        self._x = executor
        self._clock = clock

    async def register_client(
        self, client_id: str, *, redirect_uris: Sequence[str], client_name: str | None = None
    ) -> OAuthClient:
        """A new client (ConflictError if ``client_id`` is taken). ``redirect_uris``:
        at least one absolute URI without fragment; ``https``, a private-use
        scheme, or ``http`` on a loopback host (ValidationError otherwise)."""
        statement = q.register_client(client_id, client_name, redirect_uris)
        return q.to_client(await self._x.first(statement), client_id)

    async def get_client(self, client_id: str) -> OAuthClient:
        """The client ``client_id`` (NotFoundError if none)."""
        return q.to_client(await self._x.read.first(q.get_client(client_id)), client_id)

    async def issue_code(
        self,
        client_id: str,
        user_id: int,
        *,
        redirect_uri: str,
        code_challenge: str,
        code_challenge_method: str = "S256",
        scope: str | None = None,
        ttl: timedelta = DEFAULT_CODE_TTL,
    ) -> str:
        """A new authorization code (raw, returned this once) for the user and client.

        ``redirect_uri`` must equal one of the client's registered URIs exactly
        (AuthorizationError otherwise); ``code_challenge`` is the client's S256
        PKCE challenge (``plain`` is refused: ValidationError).
        InvalidReferenceError for an unknown client or user. One statement.
        """
        statement, code = q.issue_code(
            client_id,
            user_id,
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            scope=scope,
            ttl=ttl,
            now=now(self._clock),
        )
        q.check_issued(await self._x.first(statement), client_id)
        return code

    async def redeem_code(
        self,
        raw_code: str,
        *,
        client_id: str,
        redirect_uri: str,
        code_verifier: str,
        access_ttl: timedelta = DEFAULT_ACCESS_TTL,
        refresh_ttl: timedelta = DEFAULT_REFRESH_TTL,
        family_ttl: timedelta = DEFAULT_FAMILY_TTL,
    ) -> IssuedTokens:
        """Exchange a code for a new access + refresh token pair (a new family,
        ending ``family_ttl`` from now, that records the code).

        The code is marked used by one atomic statement, only if it is unused,
        unexpired, and was issued to ``client_id`` with this ``redirect_uri``: of
        concurrent redemptions exactly one succeeds. Then the PKCE verifier must
        match the code's S256 challenge; if it does not, the code stays used
        (burnt: RFC 6749 section 10.5 wants a code usable once, and a thief
        holding a code without its verifier must not get to try again).
        Presenting a code that was already redeemed (a replay) also revokes
        every token issued from its first redemption, rotated ones included
        (RFC 6749 section 4.1.2, RFC 9700 section 4.5). Every failure is an
        AuthorizationError; ValidationError for a malformed verifier or lifetime
        (checked before the code is touched).
        """
        verifier = _secrets.check_code_verifier(code_verifier)
        lifetimes = (access_ttl, refresh_ttl, family_ttl)
        redemption = q.redeem_code(raw_code, client_id, redirect_uri, lifetimes, now(self._clock))
        failure: AuthorizationError | None = None
        async with self._x.atomic() as x:  # burning the code and issuing: one transaction
            row = await x.first(redemption)
            try:
                user_id, scope = q.check_redeemed(row, verifier)
            except AuthorizationError as exc:
                # leave the block normally: a burnt code stays burnt, a replay's revocation holds
                failure = exc if row is not None else await _revoke_replayed(x, raw_code, exc)
            else:
                code_hash = _secrets.sha256_hex(raw_code)
                return await _issue(
                    x, (client_id, user_id, scope), lifetimes, self._clock, code_hash
                )
        assert failure is not None  # the block either returned or recorded a failure
        raise failure

    async def issue_tokens(
        self,
        client_id: str,
        user_id: int,
        *,
        scope: str | None = None,
        access_ttl: timedelta = DEFAULT_ACCESS_TTL,
        refresh_ttl: timedelta = DEFAULT_REFRESH_TTL,
        family_ttl: timedelta = DEFAULT_FAMILY_TTL,
    ) -> IssuedTokens:
        """A new access + refresh token pair heading a new family (``family_id`` is
        its own id; the family ends ``family_ttl`` from now), raw once
        (InvalidReferenceError for an unknown client or user). :meth:`redeem_code`
        does this; call it directly only for grants that do not go through a code."""
        lifetimes = (access_ttl, refresh_ttl, family_ttl)
        return await _issue(self._x, (client_id, user_id, scope), lifetimes, self._clock, None)

    async def validate_access(self, raw_access_token: str) -> AccessGrant | None:
        """The user and token of ``raw_access_token``; ``None`` if it is unknown,
        expired or revoked. One statement."""
        statement = qt.validate_access(raw_access_token, at(self._clock))
        return qt.to_grant(await self._x.read.first(statement))

    async def refresh(
        self,
        raw_refresh_token: str,
        *,
        client_id: str,
        access_ttl: timedelta = DEFAULT_ACCESS_TTL,
        refresh_ttl: timedelta = DEFAULT_REFRESH_TTL,
    ) -> IssuedTokens:
        """Rotate: a new token pair in the same family; the presented refresh token
        and its access token stop working. The new tokens never outlive the
        family's absolute end (``OAuthToken.family_expires_at``). Runs under the
        family's lock (:mod:`gearbox_db._queries.oauth_revoke`): of concurrent
        refreshes with one token exactly one succeeds, and no revocation of the
        family misses the token a rotation in flight creates.

        Fails with AuthorizationError if the token is unknown, expired, or of
        another client. Presenting a token that was already rotated (or revoked)
        is reuse (RFC 9700 section 4.14.2): every token of its family is revoked,
        including the newest, before AuthorizationError is raised. Two refreshes
        racing with one token are indistinguishable from theft, so the loser's
        attempt revokes the winner's new tokens too: a client must not refresh
        concurrently.
        """
        ttls = (access_ttl, refresh_ttl)
        statement, access, refresh = qt.refresh(
            raw_refresh_token, client_id, ttls, now(self._clock)
        )
        async with self._x.atomic() as x:  # lock, rotate or detect reuse: one transaction
            await x.all(qr.lock_family_of_refresh(raw_refresh_token))
            issued = qt.to_issued(await x.first(statement), access, refresh)
            if issued is not None:
                return issued
            reuse = await x.first(qr.reuse(raw_refresh_token))
        raise qr.reuse_error(reuse)  # after the block: the family's revocation is committed

    async def revoke(self, raw_token: str, *, client_id: str) -> bool:
        """Revoke the token whose access or refresh token is ``raw_token``, and every
        token of its family (RFC 7009); whether anything was revoked (an unknown or
        already revoked token is not an error). The token must have been issued to
        ``client_id``, the client asking (RFC 7009 section 2.1): AuthorizationError
        otherwise, and nothing is revoked. Waits for a rotation of the family in
        flight, so that its new token is revoked too."""
        _, revoked = await self._x.batch(
            qr.lock_family_of_token(raw_token), qr.revoke(raw_token, client_id)
        )
        return qr.revoked(revoked.rows[0] if revoked.rows else None)

    async def revoke_client(self, client_id: str) -> int:
        """Revoke every token of the client and burn its unused codes (one
        transaction, which waits for the client's redemptions and rotations in
        flight so that their new tokens are revoked too); how many tokens were
        revoked."""
        *_, revoked = await self._x.batch(
            qr.burn_client_codes(client_id),
            qr.lock_client_families(client_id),
            qr.revoke_client(client_id),
        )
        return revoked.rowcount

    async def purge_expired(self) -> int:
        """Delete expired codes and tokens whose access and refresh tokens have both
        expired; how many rows (codes + tokens). A rotated token is kept until its
        refresh token expires, so that its reuse is still detected."""
        return int(await self._x.scalar(q.purge_expired(now(self._clock))))


async def _issue(
    x: AsyncExecutor,
    grant: tuple[str, int, str | None],
    lifetimes: qt.Lifetimes,
    clock: Clock | None,
    code_hash: str | None,
) -> IssuedTokens:
    """Issue a new family for ``grant`` (client id, user id, scope)."""
    client_id, user_id, scope = grant
    statement, access, refresh = qt.issue_tokens(
        client_id, user_id, scope, lifetimes, now(clock), code_hash
    )
    issued = qt.to_issued(await x.first(statement), access, refresh)
    assert issued is not None  # an INSERT ... SELECT of one row
    return issued


async def _revoke_replayed(
    x: AsyncExecutor, raw_code: str, refusal: AuthorizationError
) -> AuthorizationError:
    """Revoke the tokens of a code presented again; the error to raise."""
    await x.all(qr.lock_code_families(raw_code))
    count = await x.rowcount(qr.revoke_code_families(raw_code))
    if not count:
        return refusal
    return AuthorizationError(
        f"the authorization code was already redeemed: the {count} live tokens "
        "issued from it are now revoked"
    )
