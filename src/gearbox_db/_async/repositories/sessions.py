"""The sessions repository."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from gearbox_db._async.executor import AsyncExecutor
from gearbox_db._queries import sessions as q
from gearbox_db._queries._common import Clock, at, now
from gearbox_db.records import NewSession, User

#: Lifetime of a session unless the caller says otherwise.
DEFAULT_SESSION_TTL: Final = timedelta(days=30)
#: Absolute lifetime of a session, sliding renewals included (from its creation).
DEFAULT_SESSION_MAX_LIFETIME: Final = timedelta(days=90)


class AsyncSessionRepository:
    """Login sessions. A session's token is returned once, by :meth:`create`; the
    database keeps only its SHA-256. Expiry is judged by the database's clock, or
    by the clock the database object was given."""

    def __init__(self, executor: AsyncExecutor, clock: Clock | None) -> None:
        self._x = executor
        self._clock = clock

    async def create(self, user_id: int, *, ttl: timedelta = DEFAULT_SESSION_TTL) -> NewSession:
        """A new session of the user, valid for ``ttl``; its raw token is
        ``NewSession.token``, which cannot be recovered later (InvalidReferenceError
        if the user does not exist; ValidationError for a ttl that is not positive)."""
        statement, token = q.create(user_id, ttl, now(self._clock))
        return q.to_new_session(await self._x.first(statement), token)

    async def validate(
        self,
        raw_token: str,
        *,
        renew_to: timedelta | None = None,
        renew_every: timedelta = timedelta(hours=1),
        max_lifetime: timedelta = DEFAULT_SESSION_MAX_LIFETIME,
    ) -> User | None:
        """The user of the session of ``raw_token``; ``None`` if the token is unknown
        or the session has expired (a deleted user has no sessions). One statement.

        Sliding expiry: with ``renew_to``, a valid session is extended to expire
        ``renew_to`` from now, never past its absolute end (``max_lifetime``
        after its creation), but only once its expiry is more than
        ``renew_every`` behind that (so at most one write per ``renew_every``; an
        expiry is never moved backwards), in the same statement. Being used
        therefore never keeps a session alive past its absolute end.
        """
        statement = q.validate(
            raw_token,
            at(self._clock),
            renew_to=renew_to,
            renew_every=renew_every,
            max_lifetime=max_lifetime,
        )
        x = self._x.read if renew_to is None else self._x  # renewing writes
        return q.to_user(await x.first(statement))

    async def delete(self, raw_token: str) -> bool:
        """Log out: delete the session of ``raw_token``; whether there was one
        (an unknown or purged token is not an error)."""
        return await self._x.rowcount(q.delete(raw_token)) > 0

    async def delete_all_for_user(self, user_id: int, *, keep: str | None = None) -> int:
        """Log out everywhere: delete every session of the user (but the one of the
        raw token ``keep``, if given: the current one); how many were deleted."""
        return await self._x.rowcount(q.delete_all_for_user(user_id, keep=keep))

    async def purge_expired(self) -> int:
        """Delete every expired session; how many."""
        return await self._x.rowcount(q.purge_expired(now(self._clock)))
