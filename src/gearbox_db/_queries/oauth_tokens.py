"""Statements and mappers of the OAuth repository: access and refresh tokens
(RFC 6749, OAuth 2.1, RFC 7009, RFC 9700).

Tokens are stored as SHA-256 (hex) only. Every expiry is judged by ``now``:
the injected clock's time, else the database's ``now()``. Refreshing is one
statement: an ``UPDATE`` that revokes the presented token's row only if it is
still current, feeding the ``INSERT`` of its successor (same ``family_id``):
of concurrent refreshes exactly one rotates.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final, TypeAlias

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Insert,
    Select,
    Text,
    bindparam,
    func,
    literal,
    select,
)
from sqlalchemy import insert as insert_
from sqlalchemy import update as update_

from gearbox_db import _secrets
from gearbox_db._queries import _validate as v
from gearbox_db._queries._common import NOW, AnyRow, columns_for
from gearbox_db._queries._compiled import Bound, Template
from gearbox_db._queries.users import USER_COLUMNS
from gearbox_db.records import AccessGrant, IssuedTokens, OAuthToken, User
from gearbox_db.schema import oauth_tokens, users

__all__ = [
    "issue_tokens",
    "refresh",
    "to_grant",
    "to_issued",
    "validate_access",
]

Now = ColumnElement[datetime]
#: Lifetimes of new tokens: access token, refresh token, and the whole family.
Lifetimes: TypeAlias = tuple[timedelta, timedelta, timedelta]
oauth_tokens_c = oauth_tokens.c
_TOKEN_COLUMNS = columns_for(OAuthToken, oauth_tokens)
# Columns an INSERT of tokens fills, in this order.
_TOKEN_INSERT = (
    "id",
    "family_id",
    "access_token_hash",
    "refresh_token_hash",
    "client_id",
    "user_id",
    "scope",
    "expires_at",
    "refresh_expires_at",
    "code_hash",
    "family_expires_at",
)


def _client_id(client_id: object) -> str:
    return v.name(client_id, "client_id")


def _token_values(
    ttls: tuple[timedelta, timedelta], now: Now, family_end: ColumnElement[datetime]
) -> tuple[list[ColumnElement[Any]], str, str]:
    """Hashes and expiries (never past ``family_end``) of a fresh access + refresh
    token; also both raw tokens."""
    access, refresh = _secrets.new_token(), _secrets.new_token()
    access_ttl, refresh_ttl = v.duration(ttls[0], "access_ttl"), v.duration(ttls[1], "refresh_ttl")
    hashes = [literal(_secrets.sha256_hex(raw), Text) for raw in (access, refresh)]
    expiries = [func.least(now + ttl, family_end) for ttl in (access_ttl, refresh_ttl)]
    return [*hashes, *expiries], access, refresh


def _insert(values: Select[Any], *ctes: Any) -> Insert:
    statement = insert_(oauth_tokens).from_select(list(_TOKEN_INSERT), values)
    for cte in ctes:
        statement = statement.add_cte(cte)
    return statement.returning(*_TOKEN_COLUMNS)


def issue_tokens(
    client_id: str,
    user_id: int,
    scope: str | None,
    lifetimes: Lifetimes,
    now: Now,
    code_hash: str | None = None,
) -> tuple[Insert, str, str]:
    """Insert a new token pair heading a new family (``family_id`` = its own id,
    drawn from the identity's sequence in the same statement; the family ends
    ``family_ttl`` from now); also both raw tokens. ``code_hash``: that of the
    code redeemed for it."""
    access_ttl, refresh_ttl, family_ttl = lifetimes
    family_end = now + v.duration(family_ttl, "family_ttl")
    (access_hash, refresh_hash, expires, refresh_expires), access_raw, refresh_raw = _token_values(
        (access_ttl, refresh_ttl), now, family_end
    )
    sequence = func.pg_get_serial_sequence(oauth_tokens.name, "id")
    new_id = select(func.nextval(sequence).label("id")).cte("new_id")
    values = select(
        new_id.c.id,
        new_id.c.id,
        access_hash,
        refresh_hash,
        literal(_client_id(client_id), Text),
        literal(v.identifier(user_id, "user_id"), BigInteger),
        literal(v.optional_text(scope, "scope"), Text),
        expires,
        refresh_expires,
        literal(code_hash, Text),
        family_end,
    )
    return _insert(values), access_raw, refresh_raw


def refresh(
    raw_refresh: str, client_id: str, ttls: tuple[timedelta, timedelta], now: Now
) -> tuple[Insert, str, str]:
    """Rotate: revoke the presented refresh token's row if it is current (not
    revoked, unexpired, this client's) and insert its successor in the same
    family, in one statement; also both new raw tokens."""
    rotated = (
        update_(oauth_tokens)
        .where(
            oauth_tokens_c.refresh_token_hash == _secrets.sha256_hex(raw_refresh, "refresh_token"),
            oauth_tokens_c.client_id == _client_id(client_id),
            oauth_tokens_c.revoked.is_(False),
            oauth_tokens_c.refresh_expires_at > now,
        )
        .values(revoked=True)
        .returning(
            oauth_tokens_c.client_id,
            oauth_tokens_c.user_id,
            oauth_tokens_c.scope,
            oauth_tokens_c.family_id,
            oauth_tokens_c.code_hash,
            oauth_tokens_c.family_expires_at,
        )
        .cte("rotated")
    )
    rotated_c = rotated.c
    (access_hash, refresh_hash, expires, refresh_expires), access_raw, refresh_raw = _token_values(
        ttls, now, rotated_c.family_expires_at
    )
    values = select(
        func.nextval(func.pg_get_serial_sequence(oauth_tokens.name, "id")),
        rotated_c.family_id,
        access_hash,
        refresh_hash,
        rotated_c.client_id,
        rotated_c.user_id,
        rotated_c.scope,
        expires,
        refresh_expires,
        rotated_c.code_hash,
        rotated_c.family_expires_at,
    )
    return _insert(values, rotated), access_raw, refresh_raw


def to_issued(row: AnyRow | None, access: str, refresh: str) -> IssuedTokens | None:
    """The tokens of an INSERT's row with both raw tokens (``None``: nothing inserted)."""
    return None if row is None else IssuedTokens(OAuthToken(*row), access, refresh)


_VALIDATE_ACCESS: Final = Template(
    lambda: (
        select(*_TOKEN_COLUMNS, *USER_COLUMNS)
        .select_from(oauth_tokens.join(users, users.c.id == oauth_tokens_c.user_id))
        .where(
            oauth_tokens_c.access_token_hash == bindparam("access_hash"),
            oauth_tokens_c.revoked.is_(False),
            oauth_tokens_c.expires_at > NOW,
        )
    )
)


def validate_access(raw_access: str, now: datetime | None) -> Bound:
    """The token and user of an unrevoked, unexpired access token (``now``: the
    injected clock's time; ``None``: the database's)."""
    return _VALIDATE_ACCESS(access_hash=_secrets.sha256_hex(raw_access, "access_token"), now=now)


def to_grant(row: AnyRow | None) -> AccessGrant | None:
    """The grant of a :func:`validate_access` row (``None``: the token grants nothing)."""
    if row is None:
        return None
    split = len(_TOKEN_COLUMNS)
    return AccessGrant(User(*row[split:]), OAuthToken(*row[:split]))
