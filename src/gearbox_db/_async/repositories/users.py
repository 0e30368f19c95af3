"""The users repository."""

from __future__ import annotations

from gearbox_db._async.executor import AsyncExecutor
from gearbox_db._queries import api_keys as qk
from gearbox_db._queries import oauth_revoke as qr
from gearbox_db._queries import sessions as qs
from gearbox_db._queries import users as q
from gearbox_db._queries._common import Clock
from gearbox_db.passwords import ahash_or_check, aspend_verification, averify_password
from gearbox_db.records import User


class AsyncUserRepository:
    """Accounts. Passwords are stored as argon2id PHC strings only
    (:mod:`gearbox_db.passwords`); no record carries the hash.

    Hashing is deliberately slow and always happens before the statement that
    stores the hash is sent, never while a transaction opened by the library
    waits (inside a caller's own transaction it is the caller's choice).
    """

    def __init__(self, executor: AsyncExecutor, clock: Clock | None) -> None:
        self._x = executor
        self._clock = clock

    async def create(
        self, *, username: str, password: str | None = None, password_hash: str | None = None
    ) -> User:
        """A new user. Give ``password`` (hashed here with argon2id) or, for imports,
        ``password_hash``, an argon2 PHC string made elsewhere (e.g. by the old
        application), stored as is and upgraded at the next login.

        ConflictError if the username is taken (usernames are case-sensitive);
        ValidationError for a blank username, NUL in it, an empty password, a
        password_hash that is not an argon2 PHC string, or both/neither given.
        """
        stored = await ahash_or_check(password, password_hash)
        return q.to_user(await self._x.first(q.create(username, password_hash=stored)), username)

    async def get(self, user_id: int) -> User:
        """The user with this id (NotFoundError if none)."""
        return q.to_user(await self._x.read.first(q.get(user_id)), user_id)

    async def get_by_username(self, username: str) -> User:
        """The user with exactly this username (NotFoundError if none)."""
        return q.to_user(await self._x.read.first(q.get_by_username(username)), username)

    async def verify_password(self, username: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else ``None`` (unknown username too).

        An unknown username costs the same argon2 verification as a wrong
        password, so response times do not reveal which usernames exist. After
        a successful check of a hash made with outdated parameters (such as the
        old application's ``m=65536,t=2,p=1``), the password is re-hashed with
        the current ones and stored, unless the hash changed meanwhile.
        """
        user, stored = q.to_credentials(await self._x.first(q.credentials(username)))
        if user is None or stored is None:
            await aspend_verification(password)
            return None
        check = await averify_password(stored, password)
        if check.needs_rehash:
            fresh = await ahash_or_check(password, None)
            await self._x.rowcount(q.rehash(user.id, stored, fresh))
        return user if check.valid else None

    async def change_password(
        self,
        user_id: int,
        *,
        password: str | None = None,
        password_hash: str | None = None,
        keep_session: str | None = None,
        revoke_api_keys: bool = False,
    ) -> None:
        """Replace the user's password: ``password`` (hashed here) or an argon2
        ``password_hash`` (NotFoundError if the user does not exist).

        Whoever held the old password must lose what it gave, in the same
        transaction: every session of the user is deleted but ``keep_session``
        (the raw token of the session that changed the password, if any);
        every OAuth token of the user is revoked (under the families' locks:
        a rotation in flight is caught) and their unused codes are burnt. API
        keys are deleted too with ``revoke_api_keys`` (they are often held by
        scripts, so they stay by default).
        """
        stored = await ahash_or_check(password, password_hash)
        statement = q.change_password(user_id, password_hash=stored)
        revocations = [
            qs.delete_all_for_user(user_id, keep=keep_session),
            qr.burn_user_codes(user_id),
            qr.lock_user_families(user_id),
            qr.revoke_user(user_id),
            *([qk.delete_all_for_user(user_id)] if revoke_api_keys else []),
        ]
        # One flight: for an unknown user every statement changes nothing.
        changed, *_ = await self._x.batch(statement, *revocations)
        q.deleted(changed.rowcount, user_id)

    async def delete(self, user_id: int) -> None:
        """Delete the user with their sessions, API keys, OAuth codes and tokens
        (NotFoundError if the user does not exist)."""
        q.deleted(await self._x.rowcount(q.delete(user_id)), user_id)
