"""The async API keeps argon2 work off the event loop."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db import AsyncDatabase


async def test_password_verification_does_not_block_the_event_loop(
    gearbox_async_connection: AsyncConnection,
) -> None:
    db = AsyncDatabase.from_connection(gearbox_async_connection)
    await db.users.create(username="walker", password="correct horse")
    ticks = 0
    login = asyncio.ensure_future(db.users.verify_password("walker", "correct horse"))
    while not login.done():  # yields to the loop only: counts turns, not time
        ticks += 1
        await asyncio.sleep(0)
    assert (await login) is not None
    # argon2 takes ~0.1 s of CPU; run on the loop it would allow a handful of
    # turns at most (the statements' own awaits), in a thread many thousands.
    assert ticks > 100


async def test_ahash_password_does_not_block_the_event_loop() -> None:
    from gearbox_db import passwords

    ticks = 0
    hashing = asyncio.ensure_future(passwords.ahash_password("correct horse"))
    while not hashing.done():  # yields to the loop only: counts turns, not time
        ticks += 1
        await asyncio.sleep(0)
    stored = await hashing
    assert passwords.verify_password(stored, "correct horse").valid
    assert ticks > 100
