"""Statements and mappers of the OAuth repository: clients and authorization codes
(RFC 6749, OAuth 2.1, RFC 7636); tokens are in :mod:`.oauth_tokens`.

Codes are stored as SHA-256 (hex) only. Every expiry is judged by ``now``:
the injected clock's time, else the database's ``now()``. Redeeming a code
is one ``UPDATE ... SET used = true WHERE ... AND NOT used ... RETURNING``:
of concurrent redemptions exactly one gets the row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    ColumnElement,
    Insert,
    Select,
    Text,
    Update,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy import delete as delete_
from sqlalchemy import insert as insert_
from sqlalchemy import update as update_

from gearbox_db import _secrets
from gearbox_db._queries import _validate as v
from gearbox_db._queries._common import AnyRow, columns_for, row_to
from gearbox_db.errors import AuthorizationError, InvalidReferenceError, ValidationError
from gearbox_db.records import OAuthClient
from gearbox_db.schema import oauth_clients, oauth_codes, oauth_tokens

__all__ = [
    "check_issued",
    "check_redeemed",
    "get_client",
    "issue_code",
    "purge_expired",
    "redeem_code",
    "register_client",
    "to_client",
]

Now = ColumnElement[datetime]
oauth_clients_c, oauth_codes_c, oauth_tokens_c = oauth_clients.c, oauth_codes.c, oauth_tokens.c
_CLIENT_COLUMNS = columns_for(OAuthClient, oauth_clients)


def _client_id(client_id: object) -> str:
    return v.name(client_id, "client_id")


def register_client(client_id: str, client_name: str | None, redirect_uris: object) -> Insert:
    """Insert a client with its redirect URIs (validated, duplicates dropped)."""
    values = {
        "client_id": v.key(client_id, "client_id"),
        "client_name": v.optional_text(client_name, "client_name"),
        "redirect_uris": v.redirect_uris(redirect_uris),
    }
    return insert_(oauth_clients).values(values).returning(*_CLIENT_COLUMNS)


def get_client(client_id: str) -> Select[Any]:
    """The client ``client_id``."""
    return select(*_CLIENT_COLUMNS).where(oauth_clients_c.client_id == _client_id(client_id))


def to_client(row: AnyRow | None, key: object) -> OAuthClient:
    """The client of ``row`` (NotFoundError if there is none)."""
    return row_to(OAuthClient, row, "OAuth client", key)


def _client_matching(client_id: str, uri: str) -> CTE:
    """The client, and whether ``uri`` is one of its redirect URIs: exactly, except
    for the port of a loopback ``http`` URI (RFC 8252 section 7.3)."""
    registered = (
        func.unnest(oauth_clients_c.redirect_uris).table_valued("uri").render_derived("registered")
    )
    portless = func.regexp_replace(registered.c.uri, v.LOOPBACK_PORT, r"\1", "i")
    wanted = literal(v.without_loopback_port(uri), Text)
    matches = exists(select(1).select_from(registered).where(portless == wanted)).label("matches")
    return (
        select(oauth_clients_c.client_id, matches)
        .where(oauth_clients_c.client_id == _client_id(client_id))
        .cte("client")
    )


def issue_code(
    client_id: str,
    user_id: int,
    *,
    redirect_uri: str,
    code_challenge: str,
    code_challenge_method: str,
    scope: str | None,
    ttl: timedelta,
    now: Now,
) -> tuple[Select[Any], str]:
    """Insert a code if ``redirect_uri`` is one of the client's; also the raw code.

    One statement; its row says whether the URI matched (no row: no client).
    """
    if code_challenge_method != "S256":
        raise ValidationError("code_challenge_method must be 'S256' (plain is not accepted)")
    uri = v.text(redirect_uri, "redirect_uri")
    client = _client_matching(client_id, uri)
    code = _secrets.new_token()
    values = select(
        literal(_secrets.sha256_hex(code), Text),
        client.c.client_id,
        literal(v.identifier(user_id, "user_id"), BigInteger),
        literal(uri, Text),
        literal(_secrets.check_code_challenge(code_challenge), Text),
        literal(v.optional_text(scope, "scope"), Text),
        now + v.duration(ttl, "ttl"),
    ).where(client.c.matches)
    columns = ("code_hash", "client_id", "user_id", "redirect_uri", "code_challenge", "scope")
    inserted = insert_(oauth_codes).from_select([*columns, "expires_at"], values)
    return select(client.c.matches).add_cte(inserted.cte("issued")), code


def check_issued(row: AnyRow | None, client_id: str) -> None:
    """Raise unless :func:`issue_code` inserted its code."""
    if row is None:
        raise InvalidReferenceError(f"OAuth client {client_id!r} does not exist")
    if not row[0]:
        raise AuthorizationError("redirect_uri is not one of the client's registered URIs")


def redeem_code(
    raw_code: str, client_id: str, redirect_uri: str, ttls: tuple[timedelta, ...], now: Now
) -> Update:
    """Mark the code used, only if unused, unexpired, of this client and redirect URI
    (one statement: of concurrent redemptions exactly one gets the row). ``ttls``,
    those of the tokens to issue (access, refresh, family), are checked first: a
    bad one must not burn the code."""
    for ttl, field in zip(ttls, ("access_ttl", "refresh_ttl", "family_ttl"), strict=True):
        v.duration(ttl, field)
    return (
        update_(oauth_codes)
        .where(
            oauth_codes_c.code_hash == _secrets.sha256_hex(raw_code, "code"),
            oauth_codes_c.used.is_(False),
            oauth_codes_c.expires_at > now,
            oauth_codes_c.client_id == _client_id(client_id),
            oauth_codes_c.redirect_uri == v.text(redirect_uri, "redirect_uri"),
        )
        .values(used=True)
        .returning(
            oauth_codes_c.user_id,
            oauth_codes_c.scope,
            oauth_codes_c.code_challenge,
            oauth_codes_c.code_challenge_method,
        )
    )


def check_redeemed(row: AnyRow | None, code_verifier: str) -> tuple[int, str | None]:
    """The user and scope of a redeemed code, if the PKCE verifier matches its
    challenge (constant-time); else AuthorizationError (the code stays used)."""
    if row is None:
        raise AuthorizationError(
            "the authorization code is unknown, expired, already used, "
            "or was issued to another client or redirect_uri"
        )
    user_id, scope, challenge, method = row
    if method != "S256" or not _secrets.pkce_matches(code_verifier, challenge):
        raise AuthorizationError("the PKCE code_verifier does not match the code_challenge")
    return user_id, scope


def purge_expired(now: Now) -> Select[Any]:
    """Delete expired codes (used or not) and tokens whose access and refresh
    tokens have both expired; one statement, whose row is the number deleted.

    A rotated (revoked) token stays until its refresh token expires, so that
    its reuse is still detected and revokes its family.
    """
    codes = (
        delete_(oauth_codes)
        .where(oauth_codes_c.expires_at <= now)
        .returning(oauth_codes_c.id)
        .cte("codes")
    )
    refresh_gone = or_(
        oauth_tokens_c.refresh_expires_at.is_(None), oauth_tokens_c.refresh_expires_at <= now
    )
    tokens = (
        delete_(oauth_tokens)
        .where(oauth_tokens_c.expires_at <= now, refresh_gone)
        .returning(oauth_tokens_c.id)
        .cte("tokens")
    )
    counts = [select(func.count()).select_from(cte).scalar_subquery() for cte in (codes, tokens)]
    return select(counts[0] + counts[1])
