"""Helpers of the account tests: an injectable clock, users, PKCE pairs, stored rows."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import attrs
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db import AsyncDatabase
from gearbox_db._secrets import s256
from gearbox_db.records import IssuedTokens, OAuthClient, User

LEGACY_PASSWORD: Final = "correct horse battery staple"
#: A hash with the old application's parameters (``Bun.password.hash`` defaults:
#: argon2id, m=65536 KiB, t=2, p=1, 32-byte salt, 32-byte hash), made once with
#: argon2-cffi: ``PasswordHasher(time_cost=2, memory_cost=65536, parallelism=1,
#: hash_len=32, salt_len=32).hash(LEGACY_PASSWORD)``.
LEGACY_HASH: Final = (
    "$argon2id$v=19$m=65536,t=2,p=1$l4BWiSp2QFgjI9DYiRFJ47cv2qjj+IzgPxj5/mQidjU"
    "$gS6EXNdirPQ1TmJ+uwbu75JtIZbOD6S67C0UhKfuO84"
)
REDIRECT: Final = "https://assistant.example/callback"


@attrs.define
class FakeClock:
    """A clock the test moves by hand (the library reads it instead of ``now()``)."""

    current: datetime = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        self.current += delta


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE verifier (64 characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


async def new_user(db: AsyncDatabase, username: str = "alice") -> User:
    """A user with the legacy hash (no argon2 hashing: fast)."""
    return await db.users.create(username=username, password_hash=LEGACY_HASH)


async def new_client(db: AsyncDatabase, client_id: str = "assistant") -> OAuthClient:
    """A client registered with :data:`REDIRECT`."""
    return await db.oauth.register_client(client_id, redirect_uris=[REDIRECT])


async def stored(
    connection: AsyncConnection, column: ColumnElement[Any], *where: ColumnElement[bool]
) -> list[Any]:
    """The values of ``column`` in the rows matching ``where`` (what is really stored)."""
    result = await connection.execute(select(column).where(*where))
    return list(result.scalars())


async def grant(db: AsyncDatabase, user: User, scope: str | None = None) -> tuple[str, str]:
    """A code for ``user`` at the client ``assistant`` (registered), and its verifier."""
    verifier, challenge = pkce_pair()
    code = await db.oauth.issue_code(
        "assistant", user.id, redirect_uri=REDIRECT, code_challenge=challenge, scope=scope
    )
    return code, verifier


async def redeem(
    db: AsyncDatabase,
    code: str,
    verifier: str,
    *,
    client_id: str = "assistant",
    redirect_uri: str = REDIRECT,
) -> IssuedTokens:
    """Redeem ``code`` as the client ``assistant`` at :data:`REDIRECT` (by default)."""
    return await db.oauth.redeem_code(
        code, client_id=client_id, redirect_uri=redirect_uri, code_verifier=verifier
    )


async def code_flow(db: AsyncDatabase) -> tuple[User, IssuedTokens]:
    """A user (alice), the client ``assistant``, and tokens from the code flow."""
    user = await new_user(db)
    await new_client(db)
    return user, await redeem(db, *await grant(db, user))
