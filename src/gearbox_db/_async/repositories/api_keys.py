"""The API keys repository."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from gearbox_db._async.executor import AsyncExecutor
from gearbox_db._queries import api_keys as q
from gearbox_db._queries._common import Clock, at, now
from gearbox_db.records import ApiKey, NewApiKey, User

#: Lifetime of an API key unless the caller says otherwise (it is absolute).
DEFAULT_API_KEY_TTL: Final = timedelta(days=365)
#: ``last_used_at`` is written at most once per this interval per key.
DEFAULT_RECORD_EVERY: Final = timedelta(minutes=5)


class AsyncApiKeyRepository:
    """API keys of users. A key (``gb_`` + 256 random bits) is returned once, by
    :meth:`create`; the database keeps its SHA-256 and its first 8 characters
    (``ApiKey.key_prefix``, to show which key is which). A key stops working at
    its ``expires_at`` (:data:`DEFAULT_API_KEY_TTL` after its creation by default)."""

    def __init__(self, executor: AsyncExecutor, clock: Clock | None) -> None:
        self._x = executor
        self._clock = clock

    async def create(
        self, user_id: int, *, name: str, ttl: timedelta = DEFAULT_API_KEY_TTL
    ) -> NewApiKey:
        """A new key of the user, named ``name``, valid for ``ttl``; the raw key is
        ``NewApiKey.key``, which cannot be recovered later (InvalidReferenceError if
        the user does not exist; ValidationError for a blank name or NUL in it, or
        a ttl that is not positive)."""
        statement, key = q.create(user_id, name, ttl, now(self._clock))
        return q.to_new_key(await self._x.first(statement), key)

    async def authenticate(
        self, raw_key: str, *, record_every: timedelta = DEFAULT_RECORD_EVERY
    ) -> User | None:
        """The user of the key ``raw_key`` (``None`` if no such key, or expired). The
        time of use goes to ``last_used_at`` at most once per ``record_every`` (so
        a key shared by busy workers is not written on every call), in the same
        statement."""
        statement = q.authenticate(raw_key, at(self._clock), record_every)
        return q.to_user(await self._x.first(statement))

    async def list_for_user(self, user_id: int) -> tuple[ApiKey, ...]:
        """The user's keys, oldest first (without the keys themselves)."""
        return q.to_keys(await self._x.read.all(q.list_for_user(user_id)))

    async def delete(self, key_id: int, *, user_id: int | None = None) -> None:
        """Delete a key; with ``user_id``, only if it is that user's (NotFoundError
        if there is no such key, or it belongs to someone else)."""
        q.deleted(await self._x.rowcount(q.delete(key_id, user_id)), key_id)
