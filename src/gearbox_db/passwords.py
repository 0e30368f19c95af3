"""Password hashing: argon2id through argon2-cffi (no hand-written crypto).

New hashes use argon2-cffi's default profile, RFC 9106's "low memory"
recommendation: argon2id, 64 MiB, 3 passes, 4 lanes, 16-byte salt, 32-byte
hash (:data:`PARAMETERS`). Hashes are PHC strings
(``$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>``) carrying their own
parameters, so hashes written with other parameters still verify: those of
the old GearBox application (Bun's ``Bun.password.hash`` defaults: argon2id,
``m=65536,t=2,p=1``, 32-byte salt) do, and :func:`verify_password` says they
need a rehash, which ``users.verify_password`` then stores.

Hashing is deliberately slow (about a fifth of a second on one core): never
call these functions while holding a database transaction or lock open.
Async code uses the ``a``-prefixed twins, which run the work in a thread so
the event loop keeps serving other requests (argon2-cffi releases the GIL).
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Final

import attrs
from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from gearbox_db.errors import ValidationError

__all__ = [
    "PARAMETERS",
    "PasswordCheck",
    "ahash_or_check",
    "ahash_password",
    "aspend_verification",
    "averify_password",
    "check_password_hash",
    "hash_or_check",
    "hash_password",
    "needs_rehash",
    "spend_verification",
    "verify_password",
]

#: Parameters of every new hash (argon2id, memory in KiB): RFC 9106's low-memory
#: profile, argon2-cffi's default.
PARAMETERS: Final = RFC_9106_LOW_MEMORY
_HASHER: Final = PasswordHasher.from_parameters(PARAMETERS)


@attrs.frozen
class PasswordCheck:
    """The outcome of checking a password against a stored hash.

    ``needs_rehash`` is only ever true when ``valid`` is: the hash was made
    with other parameters than :data:`PARAMETERS` and should be replaced by
    :func:`hash_password` of the password just checked.
    """

    valid: bool
    needs_rehash: bool = False


def _password(password: object, *, new: bool) -> str:
    if not isinstance(password, str):
        raise ValidationError(f"password must be a string, got {type(password).__name__}")
    if new and not password:
        raise ValidationError("password must not be empty")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"password is not valid Unicode text: {exc.reason}") from exc
    return password


def hash_password(password: str) -> str:
    """An argon2id PHC string of ``password`` with :data:`PARAMETERS` and a fresh salt.

    ValidationError for an empty password or one that is not Unicode text.
    Any other string is accepted as is (including NUL and very long ones):
    length and strength rules belong to the service.
    """
    return _HASHER.hash(_password(password, new=True))


def check_password_hash(password_hash: object) -> str:
    """``password_hash`` if it is an argon2 PHC string (for imports), else ValidationError.

    argon2id is expected; argon2i and argon2d hashes are accepted and
    replaced by argon2id at the next successful login.
    """
    if not isinstance(password_hash, str):
        raise ValidationError("password_hash must be an argon2 PHC string")
    try:
        extract_parameters(password_hash)
    except (InvalidHashError, ValueError) as exc:
        raise ValidationError("password_hash must be an argon2 PHC string") from exc
    return password_hash


def needs_rehash(password_hash: str) -> bool:
    """Whether ``password_hash`` was made with other parameters than :data:`PARAMETERS`."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


def verify_password(password_hash: str, password: str) -> PasswordCheck:
    """Check ``password`` against the stored ``password_hash`` (constant time in the password).

    A malformed hash never verifies; a non-string password is a ValidationError.
    """
    candidate = _password(password, new=False)
    try:
        _HASHER.verify(password_hash, candidate)
    except (VerificationError, InvalidHashError):
        return PasswordCheck(valid=False)
    return PasswordCheck(valid=True, needs_rehash=needs_rehash(password_hash))


@cache
def _dummy_hash() -> str:
    return _HASHER.hash("gearbox_db: no such user")


def spend_verification(password: str) -> PasswordCheck:
    """Verify ``password`` against a dummy hash, always invalid.

    Called when the user does not exist, so that a login for an unknown
    username takes as long as one with a wrong password (no user enumeration
    by timing).
    """
    verify_password(_dummy_hash(), password)
    return PasswordCheck(valid=False)


def hash_or_check(password: str | None, password_hash: str | None) -> str:
    """The hash to store: ``password`` hashed now, or an imported ``password_hash``
    checked (give exactly one)."""
    if (password is None) == (password_hash is None):
        raise ValidationError("give exactly one of password and password_hash")
    if password is not None:
        return hash_password(password)
    return check_password_hash(password_hash)


async def ahash_password(password: str) -> str:
    """:func:`hash_password` in a worker thread: async code awaits it instead of
    blocking its event loop for the ~0.1 s of CPU argon2id takes."""
    return await asyncio.to_thread(hash_password, password)


async def ahash_or_check(password: str | None, password_hash: str | None) -> str:
    """:func:`hash_or_check` in a worker thread (for async code)."""
    return await asyncio.to_thread(hash_or_check, password, password_hash)


async def averify_password(password_hash: str, password: str) -> PasswordCheck:
    """:func:`verify_password` in a worker thread (for async code)."""
    return await asyncio.to_thread(verify_password, password_hash, password)


async def aspend_verification(password: str) -> PasswordCheck:
    """:func:`spend_verification` in a worker thread (for async code)."""
    return await asyncio.to_thread(spend_verification, password)
