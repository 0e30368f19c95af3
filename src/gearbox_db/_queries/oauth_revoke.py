"""Statements of the OAuth repository that revoke tokens: reuse detection, revocation
of a token, of a client's tokens, of the tokens of a replayed code.

**Family locks.** Every statement that adds a token to a refresh family
(rotation) or revokes a family runs after :func:`lock_families` took the
family's transaction-level advisory lock, in the same transaction. A
revoking ``UPDATE`` that ran concurrently with a rotation would wait for the
rotated row, then miss the successor row the rotation inserted (it is not in
the ``UPDATE``'s snapshot); with the lock, the revoking statement starts (and
takes its snapshot) only after every rotation of the family in flight has
committed, and the rotations that come later wait for the revocation and
then find their token revoked. Transaction-level locks only (released at
commit or rollback): safe behind a transaction-pooling PgBouncer.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import ColumnElement, Select, Update, func, or_, select
from sqlalchemy import update as update_

from gearbox_db import _secrets
from gearbox_db._queries import _validate as v
from gearbox_db.errors import AuthorizationError
from gearbox_db.schema import oauth_codes, oauth_tokens

__all__ = [
    "FAMILY_LOCK_SPACE",
    "burn_client_codes",
    "burn_user_codes",
    "lock_client_families",
    "lock_code_families",
    "lock_family_of_refresh",
    "lock_family_of_token",
    "lock_user_families",
    "reuse",
    "reuse_error",
    "revoke",
    "revoke_client",
    "revoke_code_families",
    "revoke_user",
    "revoked",
]

#: First key of the advisory locks ``(FAMILY_LOCK_SPACE, hashint8(family_id))``.
FAMILY_LOCK_SPACE: Final = 0x67626F66  # "gbof"
oauth_tokens_c, oauth_codes_c = oauth_tokens.c, oauth_codes.c


def _client_id(client_id: object) -> str:
    return v.name(client_id, "client_id")


def lock_families(*where: ColumnElement[bool]) -> Select[Any]:
    """Take the advisory lock of every family with a token matching ``where``, in
    the order of the lock keys (two lockers of several families never deadlock)."""
    key = func.hashint8(oauth_tokens_c.family_id)
    keys = select(key.label("key")).where(*where).distinct().order_by(key).subquery()
    return select(func.pg_advisory_xact_lock(FAMILY_LOCK_SPACE, keys.c.key))


def lock_family_of_refresh(raw_refresh: str) -> Select[Any]:
    """Lock the family of the refresh token ``raw_refresh`` (before rotating it)."""
    return lock_families(
        oauth_tokens_c.refresh_token_hash == _secrets.sha256_hex(raw_refresh, "refresh_token")
    )


def _token_matches(raw_token: str) -> ColumnElement[bool]:
    token_hash = _secrets.sha256_hex(raw_token, "token")
    return or_(
        oauth_tokens_c.access_token_hash == token_hash,
        oauth_tokens_c.refresh_token_hash == token_hash,
    )


def lock_family_of_token(raw_token: str) -> Select[Any]:
    """Lock the family of the token whose access or refresh token is ``raw_token``."""
    return lock_families(_token_matches(raw_token))


def lock_client_families(client_id: str) -> Select[Any]:
    """Lock every family of the client that still has a live token."""
    return lock_families(
        oauth_tokens_c.client_id == _client_id(client_id), oauth_tokens_c.revoked.is_(False)
    )


def lock_code_families(raw_code: str) -> Select[Any]:
    """Lock the families issued by the code ``raw_code``."""
    return lock_families(oauth_tokens_c.code_hash == _secrets.sha256_hex(raw_code, "code"))


def _revoke_where(*where: ColumnElement[bool]) -> Update:
    return (
        update_(oauth_tokens).where(*where, oauth_tokens_c.revoked.is_(False)).values(revoked=True)
    )


def reuse(raw_refresh: str) -> Select[Any]:
    """Reuse detection (RFC 9700 section 4.14.2): if ``raw_refresh`` belongs to a
    revoked (rotated) row, revoke every token of its family. One statement, whose
    row says whether it was such a token and how many tokens it revoked."""
    reused = (
        select(oauth_tokens_c.family_id)
        .where(
            oauth_tokens_c.refresh_token_hash == _secrets.sha256_hex(raw_refresh, "refresh_token")
        )
        .where(oauth_tokens_c.revoked.is_(True))
        .cte("reused")
    )
    family = oauth_tokens_c.family_id.in_(select(reused.c.family_id))
    revoked_ = _revoke_where(family).returning(oauth_tokens_c.id).cte("family_revoked")
    return select(
        select(func.count()).select_from(reused).scalar_subquery(),
        select(func.count()).select_from(revoked_).scalar_subquery(),
    )


def reuse_error(row: Any) -> AuthorizationError:
    """The error to raise after :func:`reuse` (whether or not it was a reuse)."""
    if row is not None and row[0]:
        return AuthorizationError(
            "refresh token reuse: it had already been rotated; every token of its "
            f"family is now revoked ({row[1]} were still live)"
        )
    return AuthorizationError(
        "the refresh token is unknown, expired, or was issued to another client"
    )


def revoke(raw_token: str, client_id: str) -> Select[Any]:
    """Revoke the family of the token whose access or refresh token is ``raw_token``,
    if that token was issued to ``client_id`` (RFC 7009 section 2.1). One statement
    whose row is: whether the token exists, whether it is the client's, and how
    many tokens it revoked."""
    target = (
        select(oauth_tokens_c.family_id, oauth_tokens_c.client_id)
        .where(_token_matches(raw_token))
        .cte("target")
    )
    own = select(target.c.family_id).where(target.c.client_id == _client_id(client_id))
    revoked_ = (
        _revoke_where(oauth_tokens_c.family_id.in_(own)).returning(oauth_tokens_c.id).cte("revoked")
    )
    return select(
        select(func.count()).select_from(target).scalar_subquery(),
        select(func.count()).select_from(own.subquery()).scalar_subquery(),
        select(func.count()).select_from(revoked_).scalar_subquery(),
    )


def revoked(row: Any) -> bool:
    """Whether :func:`revoke` revoked anything; AuthorizationError if the token
    exists but was issued to another client (then nothing is revoked)."""
    found, own, count = row
    if found and not own:
        raise AuthorizationError("the token was issued to another client")
    return bool(count)


def burn_client_codes(client_id: str) -> Update:
    """Mark every unused code of the client used (waits for redemptions in flight,
    which hold their code's row)."""
    checked = _client_id(client_id)
    return (
        update_(oauth_codes)
        .where(oauth_codes_c.client_id == checked, oauth_codes_c.used.is_(False))
        .values(used=True)
    )


def revoke_client(client_id: str) -> Update:
    """Revoke every live token of the client (after :func:`lock_client_families`)."""
    return _revoke_where(oauth_tokens_c.client_id == _client_id(client_id))


def revoke_code_families(raw_code: str) -> Update:
    """Revoke every live token issued, directly or by rotation, from ``raw_code``
    (after :func:`lock_code_families`)."""
    return _revoke_where(oauth_tokens_c.code_hash == _secrets.sha256_hex(raw_code, "code"))


def burn_user_codes(user_id: int) -> Update:
    """Mark every unused code of the user used (waits for redemptions in flight)."""
    user = v.identifier(user_id, "user_id")
    return (
        update_(oauth_codes)
        .where(oauth_codes_c.user_id == user, oauth_codes_c.used.is_(False))
        .values(used=True)
    )


def lock_user_families(user_id: int) -> Select[Any]:
    """Lock every family of the user that still has a live token."""
    return lock_families(
        oauth_tokens_c.user_id == v.identifier(user_id, "user_id"),
        oauth_tokens_c.revoked.is_(False),
    )


def revoke_user(user_id: int) -> Update:
    """Revoke every live token of the user (after :func:`lock_user_families`)."""
    return _revoke_where(oauth_tokens_c.user_id == v.identifier(user_id, "user_id"))
