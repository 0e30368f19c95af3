"""Statements and mappers of the users repository.

Password hashing (argon2id, deliberately slow) happens in the builders, that
is before any statement runs and outside every transaction the library opens.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Delete, Insert, Select, Update, select
from sqlalchemy import delete as delete_
from sqlalchemy import insert as insert_
from sqlalchemy import update as update_

from gearbox_db._queries import _validate as v
from gearbox_db._queries._common import AnyRow, found, row_to
from gearbox_db._queries._projection import Projection
from gearbox_db.records import User
from gearbox_db.schema import users

__all__ = [
    "USER_COLUMNS",
    "change_password",
    "create",
    "credentials",
    "delete",
    "deleted",
    "get",
    "get_by_username",
    "rehash",
    "to_credentials",
    "to_user",
]

users_c = users.c
#: The columns of a :class:`User`, in field order (for joins of other repositories).
USER_COLUMNS = [users_c.id, users_c.username, users_c.created_at]
#: Rows of :func:`credentials`: the user, then the stored password hash.
_CREDENTIALS: Final = Projection(user=USER_COLUMNS, password_hash=[users_c.password_hash])


def create(username: str, *, password_hash: str) -> Insert:
    """Insert a user with a password hash (from :func:`passwords.hash_or_check`)."""
    values = {"username": v.key(username, "username"), "password_hash": password_hash}
    return insert_(users).values(values).returning(*USER_COLUMNS)


def get(user_id: int) -> Select[Any]:
    """The user with id ``user_id``."""
    return select(*USER_COLUMNS).where(users_c.id == v.identifier(user_id, "user_id"))


def get_by_username(username: str) -> Select[Any]:
    """The user named exactly ``username``."""
    return select(*USER_COLUMNS).where(users_c.username == v.name(username, "username"))


def to_user(row: AnyRow | None, key: object) -> User:
    """The user of ``row`` (NotFoundError if there is none)."""
    return row_to(User, row, "user", key)


def credentials(username: str) -> Select[Any]:
    """The user named ``username`` and their password hash (last column)."""
    return get_by_username(username).with_only_columns(*_CREDENTIALS.columns)


def to_credentials(row: AnyRow | None) -> tuple[User | None, str | None]:
    """The user and stored hash of a :func:`credentials` row (``None, None`` if none)."""
    if row is None:
        return None, None
    return User(*row[_CREDENTIALS["user"]]), row[_CREDENTIALS.at("password_hash")]


def rehash(user_id: int, old_hash: str, new_hash: str) -> Update:
    """Replace ``old_hash`` by ``new_hash`` (made with the current parameters),
    unless the hash changed meanwhile (a concurrent password change wins)."""
    return (
        update_(users)
        .where(users_c.id == user_id, users_c.password_hash == old_hash)
        .values(password_hash=new_hash)
    )


def change_password(user_id: int, *, password_hash: str) -> Update:
    """Set a user's password hash (from :func:`passwords.hash_or_check`)."""
    checked_id = v.identifier(user_id, "user_id")
    return update_(users).where(users_c.id == checked_id).values(password_hash=password_hash)


def deleted(count: int, user_id: int) -> None:
    """Raise NotFoundError when an update or delete by id found nothing."""
    found(count or None, "user", user_id)


def delete(user_id: int) -> Delete:
    """Delete a user (the database cascades to sessions, keys, codes and tokens)."""
    return delete_(users).where(users_c.id == v.identifier(user_id, "user_id"))
