"""Users repository: argon2id passwords, legacy hashes, rehash, cascade on delete."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db import AsyncDatabase, ConflictError, NotFoundError, ValidationError
from gearbox_db._queries import users as q
from gearbox_db.schema import api_keys, oauth_codes, oauth_tokens, sessions, users

from ._accounts import (
    LEGACY_HASH,
    LEGACY_PASSWORD,
    REDIRECT,
    new_client,
    new_user,
    pkce_pair,
    stored,
)

CURRENT_PREFIX = "$argon2id$v=19$m=65536,t=3,p=4$"


async def _hash_of(connection: AsyncConnection, user_id: int) -> str:
    (value,) = await stored(connection, users.c.password_hash, users.c.id == user_id)
    return str(value)


async def test_password_lifecycle(
    db: AsyncDatabase, gearbox_async_connection: AsyncConnection
) -> None:
    """create hashes with the current parameters; change_password replaces the
    hash; only the current password verifies; a current hash is not rehashed."""
    user = await db.users.create(username="alice", password="first password")
    assert (user.username, await db.users.get(user.id)) == ("alice", user)
    assert await db.users.get_by_username("alice") == user
    first = await _hash_of(gearbox_async_connection, user.id)
    assert first.startswith(CURRENT_PREFIX)
    assert "first password" not in first
    await db.users.change_password(user.id, password="second password")
    second = await _hash_of(gearbox_async_connection, user.id)
    assert second.startswith(CURRENT_PREFIX)
    assert second != first
    assert await db.users.verify_password("alice", "second password") == user
    assert await db.users.verify_password("alice", "first password") is None
    assert await _hash_of(gearbox_async_connection, user.id) == second


async def test_legacy_hash_verifies_and_is_rehashed_once(
    db: AsyncDatabase, gearbox_async_connection: AsyncConnection
) -> None:
    """A hash of the old application (Bun defaults m=65536,t=2,p=1) verifies; a
    wrong password does not (and changes nothing); success upgrades the hash."""
    user = await db.users.create(username="legacy", password_hash=LEGACY_HASH)
    assert await db.users.verify_password("legacy", "wrong password") is None
    assert await _hash_of(gearbox_async_connection, user.id) == LEGACY_HASH
    assert await db.users.verify_password("legacy", LEGACY_PASSWORD) == user
    upgraded = await _hash_of(gearbox_async_connection, user.id)
    assert upgraded.startswith(CURRENT_PREFIX)
    assert await db.users.verify_password("legacy", LEGACY_PASSWORD) == user
    assert await _hash_of(gearbox_async_connection, user.id) == upgraded


async def test_unknown_username_does_not_verify(db: AsyncDatabase) -> None:
    assert await db.users.verify_password("nobody", LEGACY_PASSWORD) is None


async def test_change_password_to_an_imported_hash(
    db: AsyncDatabase, gearbox_async_connection: AsyncConnection
) -> None:
    user = await db.users.create(username="alice", password_hash=LEGACY_HASH.replace("t=2", "t=3"))
    await db.users.change_password(user.id, password_hash=LEGACY_HASH)
    assert await _hash_of(gearbox_async_connection, user.id) == LEGACY_HASH
    with pytest.raises(NotFoundError):
        await db.users.change_password(10**9, password_hash=LEGACY_HASH)
    with pytest.raises(ValidationError):
        await db.users.change_password(user.id)


async def test_rehash_never_overwrites_a_newer_password(
    db: AsyncDatabase, gearbox_async_connection: AsyncConnection
) -> None:
    """The rehash after a login replaces only the hash that was verified."""
    user = await new_user(db)
    newer = LEGACY_HASH.replace("t=2", "t=3")
    await db.users.change_password(user.id, password_hash=newer)
    result = await gearbox_async_connection.execute(q.rehash(user.id, LEGACY_HASH, "x"))
    assert result.rowcount == 0
    assert await _hash_of(gearbox_async_connection, user.id) == newer


async def test_usernames_are_unique(db: AsyncDatabase) -> None:
    await new_user(db, "bob")
    await new_user(db, "Bob")  # case-sensitive, as before
    with pytest.raises(ConflictError) as info:
        await new_user(db, "bob")
    assert info.value.constraint == "uq_users_username"
    assert info.value.__cause__ is not None


async def test_missing_user(db: AsyncDatabase) -> None:
    with pytest.raises(NotFoundError):
        await db.users.get(10**9)
    with pytest.raises(NotFoundError):
        await db.users.get_by_username("ghost")
    with pytest.raises(NotFoundError):
        await db.users.delete(10**9)


@pytest.mark.parametrize(
    ("username", "password", "password_hash"),
    [
        ("", None, LEGACY_HASH),
        ("a\x00b", None, LEGACY_HASH),
        ("carol", None, None),  # neither
        ("carol", "pw", LEGACY_HASH),  # both
        ("carol", "", None),  # empty password
        ("carol", None, "plaintext"),  # not a PHC string
        ("carol", None, "$2b$12$" + "a" * 53),  # bcrypt is not argon2
    ],
)
async def test_bad_input_is_a_validation_error(
    db: AsyncDatabase, username: str, password: str | None, password_hash: str | None
) -> None:
    with pytest.raises(ValidationError):
        await db.users.create(username=username, password=password, password_hash=password_hash)


async def test_delete_cascades_to_sessions_keys_codes_and_tokens(
    db: AsyncDatabase, gearbox_async_connection: AsyncConnection
) -> None:
    user, other = await new_user(db), await new_user(db, "other")
    await new_client(db)
    session = await db.sessions.create(user.id)
    key = await db.api_keys.create(user.id, name="laptop")
    await db.oauth.issue_code(
        "assistant", user.id, redirect_uri=REDIRECT, code_challenge=pkce_pair()[1]
    )
    tokens = await db.oauth.issue_tokens("assistant", user.id)
    kept = await db.sessions.create(other.id)
    await db.users.delete(user.id)
    assert await db.sessions.validate(session.token) is None
    assert await db.api_keys.authenticate(key.key) is None
    assert await db.oauth.validate_access(tokens.access_token) is None
    for table in (sessions, api_keys, oauth_codes, oauth_tokens):
        rows = await stored(gearbox_async_connection, func.count(), table.c.user_id == user.id)
        assert rows == [0], table.name
    assert await db.sessions.validate(kept.token) == other
