"""Statements and mappers of the sessions repository.

A session's token exists only in the caller's hands; the table keys the
session by the token's SHA-256 (hex). Every expiry is judged by ``now``: the
injected clock's time, else the database's ``now()``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Delete, Insert, Interval, Select, bindparam, func, select
from sqlalchemy import delete as delete_
from sqlalchemy import insert as insert_
from sqlalchemy import update as update_

from gearbox_db import _secrets
from gearbox_db._queries import _validate as v
from gearbox_db._queries._common import NOW, AnyRow, columns_for
from gearbox_db._queries._compiled import Bound, Template
from gearbox_db._queries.users import USER_COLUMNS
from gearbox_db.records import NewSession, Session, User
from gearbox_db.schema import sessions, users

__all__ = [
    "create",
    "delete",
    "delete_all_for_user",
    "purge_expired",
    "to_new_session",
    "to_user",
    "validate",
]

sessions_c = sessions.c
_COLUMNS = columns_for(Session, sessions)

Now = ColumnElement[datetime]


def create(user_id: int, ttl: timedelta, now: Now) -> tuple[Insert, str]:
    """Insert a session for ``user_id`` expiring ``ttl`` after ``now``; also the raw token."""
    token = _secrets.new_token()
    statement = insert_(sessions).values(
        token_hash=_secrets.sha256_hex(token),
        user_id=v.identifier(user_id, "user_id"),
        expires_at=now + v.duration(ttl, "ttl"),
        created_at=now,  # the clock that judges the session's absolute end
    )
    return statement.returning(*_COLUMNS), token


def to_new_session(row: AnyRow | None, token: str) -> NewSession:
    """The session of ``row`` (an INSERT always returns one) with its raw token."""
    assert row is not None
    return NewSession(Session(*row), token)


def _validate(*, renew: bool) -> Select[Any]:
    live = (sessions_c.token_hash == bindparam("token_hash"), sessions_c.expires_at > NOW)
    statement = (
        select(*USER_COLUMNS)
        .select_from(sessions.join(users, users.c.id == sessions_c.user_id))
        .where(*live)
    )
    if not renew:
        return statement
    end = sessions_c.created_at + bindparam("max_lifetime", type_=Interval)
    target = func.least(NOW + bindparam("renew_to", type_=Interval), end)
    renewal = (
        update_(sessions)
        .where(*live)
        .where(sessions_c.expires_at < target - bindparam("renew_every", type_=Interval))
        .values(expires_at=target)
        .cte("renewed")
    )
    return statement.add_cte(renewal)


_VALIDATE: Final = Template(lambda: _validate(renew=False))
_VALIDATE_RENEW: Final = Template(lambda: _validate(renew=True))


def validate(
    raw_token: str,
    now: datetime | None,
    *,
    renew_to: timedelta | None,
    renew_every: timedelta,
    max_lifetime: timedelta,
) -> Bound:
    """The user of the unexpired session of ``raw_token``: one statement.

    With ``renew_to``, the same statement also moves the session's expiry to
    ``now + renew_to``, never past its absolute end (``created_at +
    max_lifetime``), when it is earlier than that minus ``renew_every`` (so at
    most once per ``renew_every``, and never backwards). The SELECT sees the
    row as it was before that UPDATE, which keeps it valid. ``now``: the
    injected clock's time (``None``: the database's).
    """
    token_hash = _secrets.sha256_hex(raw_token)
    max_lifetime = v.duration(max_lifetime, "max_lifetime")
    renew_every = v.duration(renew_every, "renew_every")
    if renew_to is None:
        return _VALIDATE(token_hash=token_hash, now=now)
    return _VALIDATE_RENEW(
        token_hash=token_hash,
        now=now,
        max_lifetime=max_lifetime,
        renew_to=v.duration(renew_to, "renew_to"),
        renew_every=renew_every,
    )


def to_user(row: AnyRow | None) -> User | None:
    """The user of a :func:`validate` row, ``None`` if the token is unknown or expired."""
    return None if row is None else User(*row)


def delete(raw_token: str) -> Delete:
    """Delete the session of ``raw_token`` (expired or not)."""
    return delete_(sessions).where(sessions_c.token_hash == _secrets.sha256_hex(raw_token))


def delete_all_for_user(user_id: int, *, keep: str | None = None) -> Delete:
    """Delete every session of a user (but the one of the raw token ``keep``)."""
    statement = delete_(sessions).where(sessions_c.user_id == v.identifier(user_id, "user_id"))
    if keep is not None:
        statement = statement.where(
            sessions_c.token_hash != _secrets.sha256_hex(keep, "keep_session")
        )
    return statement


def purge_expired(now: Now) -> Delete:
    """Delete every session expired at ``now``."""
    return delete_(sessions).where(sessions_c.expires_at <= now)
