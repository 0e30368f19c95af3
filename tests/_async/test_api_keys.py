"""API keys repository: prefixed keys returned once, stored as hashes, last use recorded."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db import AsyncDatabase, InvalidReferenceError, NotFoundError, ValidationError
from gearbox_db.schema import api_keys

from ._accounts import FakeClock, new_user, stored


async def test_create_returns_a_prefixed_key_once_and_stores_its_hash(
    db: AsyncDatabase, gearbox_async_connection: AsyncConnection
) -> None:
    user = await new_user(db)
    new = await db.api_keys.create(user.id, name="laptop")
    assert new.key.startswith("gb_")
    assert len(new.key) >= 3 + 43  # prefix + 256 bits of URL-safe base64
    assert new.key not in repr(new)
    key = new.api_key
    assert (key.user_id, key.name, key.key_prefix, key.last_used_at) == (
        user.id,
        "laptop",
        new.key[:8],
        None,
    )
    hashes = await stored(gearbox_async_connection, api_keys.c.key_hash)
    assert hashes == [hashlib.sha256(new.key.encode()).hexdigest()]


async def test_authenticate_records_the_time_of_use(
    gearbox_async_connection: AsyncConnection,
) -> None:
    clock = FakeClock()
    db = AsyncDatabase.from_connection(gearbox_async_connection, clock=clock)
    user = await new_user(db)
    new = await db.api_keys.create(user.id, name="ci")
    assert await db.api_keys.authenticate(new.key) == user
    (listed,) = await db.api_keys.list_for_user(user.id)
    assert listed.last_used_at == clock.current
    assert await db.api_keys.authenticate("gb_" + "x" * 43) is None
    assert await db.api_keys.authenticate(new.key[:-1]) is None


async def test_list_and_delete(db: AsyncDatabase) -> None:
    alice, bob = await new_user(db), await new_user(db, "bob")
    first = await db.api_keys.create(alice.id, name="first")
    second = await db.api_keys.create(alice.id, name="second")
    theirs = await db.api_keys.create(bob.id, name="bob's")
    listed = await db.api_keys.list_for_user(alice.id)
    assert listed == (first.api_key, second.api_key)
    with pytest.raises(NotFoundError):  # not bob's key to delete
        await db.api_keys.delete(first.api_key.id, user_id=bob.id)
    await db.api_keys.delete(first.api_key.id, user_id=alice.id)
    await db.api_keys.delete(second.api_key.id)
    assert await db.api_keys.list_for_user(alice.id) == ()
    assert await db.api_keys.authenticate(first.key) is None
    assert await db.api_keys.authenticate(theirs.key) == bob
    with pytest.raises(NotFoundError):
        await db.api_keys.delete(first.api_key.id)


async def test_unknown_user(db: AsyncDatabase) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        await db.api_keys.create(10**9, name="key")
    assert info.value.constraint == "fk_api_keys_user_id_users"
    assert info.value.__cause__ is not None


@pytest.mark.parametrize("name", ["", "  ", "a\x00b"])
async def test_bad_names_are_validation_errors(db: AsyncDatabase, name: str) -> None:
    user = await new_user(db)
    with pytest.raises(ValidationError):
        await db.api_keys.create(user.id, name=name)
