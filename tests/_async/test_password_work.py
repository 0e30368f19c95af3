"""Logins cost the same argon2 work for unknown users, current and imported hashes;
accepted hash parameters are bounded; a stronger hash is never downgraded.

Work is counted, not timed (timings on a shared machine are noise): every
argon2 computation argon2-cffi runs goes through its ``hash_secret`` or
``verify_secret``; a recorder wraps both (and still runs them) and adds up
memory x passes, argon2's cost (its lanes run on one thread)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from argon2 import PasswordHasher, extract_parameters, low_level
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db import AsyncDatabase, ValidationError
from gearbox_db.passwords import MAX_MEMORY_KIB, PARAMETERS
from gearbox_db.schema import users

from ._accounts import LEGACY_HASH, LEGACY_PASSWORD, stored

CURRENT_WORK = PARAMETERS.memory_cost * PARAMETERS.time_cost


class WorkRecorder:
    """Adds up the argon2 work done (KiB x passes) while installed."""

    def __init__(self) -> None:
        self.work = 0

    def wrap_hash(self, real: Callable[..., bytes]) -> Callable[..., bytes]:
        def recorded(**kwargs: Any) -> bytes:
            self.work += kwargs["memory_cost"] * kwargs["time_cost"]
            return real(**kwargs)

        return recorded

    def wrap_verify(self, real: Callable[..., bool]) -> Callable[..., bool]:
        def recorded(stored_hash: bytes, *args: Any) -> bool:
            parameters = extract_parameters(stored_hash.decode())
            self.work += parameters.memory_cost * parameters.time_cost
            return real(stored_hash, *args)

        return recorded


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> WorkRecorder:
    """Records the work of PasswordHasher (which calls these two, imported by name)."""
    recorder = WorkRecorder()
    where = "argon2._password_hasher"
    monkeypatch.setattr(f"{where}.hash_secret", recorder.wrap_hash(low_level.hash_secret))
    monkeypatch.setattr(f"{where}.verify_secret", recorder.wrap_verify(low_level.verify_secret))
    return recorder


def _phc(memory: int, passes: int, lanes: int) -> str:
    """A well-formed argon2id PHC string with these parameters (never computed)."""
    salt, digest = (base64.b64encode(b).decode().rstrip("=") for b in (b"s" * 16, b"h" * 32))
    return f"$argon2id$v=19$m={memory},t={passes},p={lanes}${salt}${digest}"


async def _work_of_a_failed_login(db: AsyncDatabase, recorder: WorkRecorder, username: str) -> int:
    before = recorder.work
    assert await db.users.verify_password(username, "not the password") is None
    return recorder.work - before


async def test_failed_logins_cost_the_same_work_whatever_the_account(
    db: AsyncDatabase, recorder: WorkRecorder
) -> None:
    """Unknown user, current hash, imported (cheaper: m=65536,t=2,p=1) hash: the
    same work, so response times do not tell imported accounts from missing ones."""
    await db.users.create(username="current", password="a password")
    await db.users.create(username="imported", password_hash=LEGACY_HASH)
    cheap = PasswordHasher(memory_cost=8192, time_cost=1, parallelism=1).hash("x")
    await db.users.create(username="cheap", password_hash=cheap)
    works = {
        name: await _work_of_a_failed_login(db, recorder, name)
        for name in ("nobody", "current", "imported", "cheap")
    }
    # argon2 itself rounds memory to whole blocks per lane: equal within 0.1 %
    assert all(abs(work - CURRENT_WORK) <= CURRENT_WORK // 1000 for work in works.values()), works


@pytest.mark.parametrize(
    ("memory", "passes", "lanes", "bound"),
    [
        (4 * 1024 * 1024, 3, 4, "memory_cost"),  # 4 GiB
        (MAX_MEMORY_KIB + 8, 3, 4, "memory_cost"),
        (65536, 11, 4, "time_cost"),
        (65536, 3, 17, "parallelism"),
    ],
)
async def test_imported_hash_parameters_are_bounded(
    db: AsyncDatabase,
    gearbox_async_connection: AsyncConnection,
    recorder: WorkRecorder,
    memory: int,
    passes: int,
    lanes: int,
    bound: str,
) -> None:
    """Refused at import (ValidationError naming the bound); one already stored
    never verifies and costs the dummy verification, not its own parameters."""
    huge = _phc(memory, passes, lanes)
    with pytest.raises(ValidationError, match=bound):
        await db.users.create(username="huge", password_hash=huge)
    user = await db.users.create(username="huge", password_hash=LEGACY_HASH)
    with pytest.raises(ValidationError, match=bound):
        await db.users.change_password(user.id, password_hash=huge)
    await gearbox_async_connection.execute(
        users.update().where(users.c.id == user.id).values(password_hash=huge)
    )
    assert await _work_of_a_failed_login(db, recorder, "huge") == CURRENT_WORK  # not 4 GiB


async def test_the_largest_accepted_hash_is_accepted(db: AsyncDatabase) -> None:
    assert await db.users.create(username="max", password_hash=_phc(MAX_MEMORY_KIB, 10, 16))


async def test_a_stronger_hash_is_never_downgraded(
    db: AsyncDatabase, gearbox_async_connection: AsyncConnection
) -> None:
    strong = PasswordHasher(
        memory_cost=2 * PARAMETERS.memory_cost, time_cost=PARAMETERS.time_cost, parallelism=4
    ).hash(LEGACY_PASSWORD)
    user = await db.users.create(username="strong", password_hash=strong)
    assert await db.users.verify_password("strong", LEGACY_PASSWORD) == user
    assert await stored(gearbox_async_connection, users.c.password_hash) == [strong]
