"""Statements and mappers of the API keys repository.

The database keeps a key's SHA-256 (hex) and its first 8 characters, never
the key itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Delete, Insert, Interval, Select, bindparam, or_, select
from sqlalchemy import delete as delete_
from sqlalchemy import insert as insert_
from sqlalchemy import update as update_

from gearbox_db import _secrets
from gearbox_db._queries import _validate as v
from gearbox_db._queries._common import NOW, AnyRow, columns_for, found, rows_to
from gearbox_db._queries._compiled import Bound, Template
from gearbox_db._queries.users import USER_COLUMNS
from gearbox_db.records import ApiKey, NewApiKey, User
from gearbox_db.schema import api_keys, users

__all__ = [
    "PREFIX_LENGTH",
    "authenticate",
    "create",
    "delete",
    "delete_all_for_user",
    "deleted",
    "list_for_user",
    "to_keys",
    "to_new_key",
    "to_user",
]

Now = ColumnElement[datetime]
api_keys_c = api_keys.c
_COLUMNS = columns_for(ApiKey, api_keys)
#: Characters of a key kept for display (``gb_`` and 5 random characters).
PREFIX_LENGTH: Final = 8


def create(user_id: int, name: str, ttl: timedelta, now: Now) -> tuple[Insert, str]:
    """Insert a new key of ``user_id``, expiring ``ttl`` after ``now``; also the raw key."""
    key = _secrets.new_api_key()
    statement = insert_(api_keys).values(
        user_id=v.identifier(user_id, "user_id"),
        name=v.name(name),
        key_hash=_secrets.sha256_hex(key),
        key_prefix=key[:PREFIX_LENGTH],
        expires_at=now + v.duration(ttl, "ttl"),
    )
    return statement.returning(*_COLUMNS), key


def to_new_key(row: AnyRow | None, key: str) -> NewApiKey:
    """The key of ``row`` (an INSERT always returns one) with the raw key."""
    assert row is not None
    return NewApiKey(ApiKey(*row), key)


def _authenticate() -> Select[Any]:
    live = (api_keys_c.key_hash == bindparam("key_hash"), api_keys_c.expires_at > NOW)
    every = bindparam("record_every", type_=Interval)
    stale = or_(api_keys_c.last_used_at.is_(None), api_keys_c.last_used_at <= NOW - every)
    recorded = update_(api_keys).where(*live, stale).values(last_used_at=NOW).cte("recorded")
    statement = select(*USER_COLUMNS).select_from(
        api_keys.join(users, users.c.id == api_keys_c.user_id)
    )
    return statement.where(*live).add_cte(recorded)


_AUTHENTICATE: Final = Template(_authenticate)


def authenticate(raw_key: str, now: datetime | None, record_every: timedelta) -> Bound:
    """The user of the unexpired key ``raw_key``; in the same statement, its use is
    recorded in ``last_used_at`` unless it was recorded less than ``record_every``
    ago (a key shared by many workers is not written on every request). ``now``:
    the injected clock's time (``None``: the database's)."""
    return _AUTHENTICATE(
        key_hash=_secrets.sha256_hex(raw_key, "key"),
        now=now,
        record_every=v.duration(record_every, "record_every"),
    )


def delete_all_for_user(user_id: int) -> Delete:
    """Delete every key of a user."""
    return delete_(api_keys).where(api_keys_c.user_id == v.identifier(user_id, "user_id"))


def to_user(row: AnyRow | None) -> User | None:
    """The user of an :func:`authenticate` row, ``None`` for an unknown key."""
    return None if row is None else User(*row)


def list_for_user(user_id: int) -> Select[Any]:
    """The keys of a user, oldest first."""
    user = v.identifier(user_id, "user_id")
    return (
        select(*_COLUMNS)
        .where(api_keys_c.user_id == user)
        .order_by(api_keys_c.created_at, api_keys_c.id)
    )


def to_keys(rows: Any) -> tuple[ApiKey, ...]:
    """Map the rows of :func:`list_for_user`."""
    return rows_to(ApiKey, rows)


def delete(key_id: int, user_id: int | None) -> Delete:
    """Delete a key (only if it belongs to ``user_id``, when given)."""
    statement = delete_(api_keys).where(api_keys_c.id == v.identifier(key_id, "key_id"))
    if user_id is not None:
        statement = statement.where(api_keys_c.user_id == v.identifier(user_id, "user_id"))
    return statement


def deleted(count: int, key_id: int) -> None:
    """Raise NotFoundError when the delete found nothing."""
    found(count or None, "API key", key_id)
