"""Password hashing: argon2id through argon2-cffi (no hand-written crypto).

New hashes use argon2-cffi's default profile, RFC 9106's "low memory"
recommendation: argon2id, 64 MiB, 3 passes, 4 lanes, 16-byte salt, 32-byte
hash (:data:`PARAMETERS`). Hashes are PHC strings
(``$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>``) carrying their own
parameters, so hashes written with other parameters still verify: those of
the old GearBox application (Bun's ``Bun.password.hash`` defaults: argon2id,
``m=65536,t=2,p=1``, 32-byte salt) do, and :func:`verify_password` says they
need a rehash, which ``users.verify_password`` then stores. A hash at least as
strong as :data:`PARAMETERS` in every respect is never rehashed (no downgrade).

Accepted hashes are bounded (:data:`MAX_MEMORY_KIB`, :data:`MAX_TIME_COST`,
:data:`MAX_PARALLELISM`, ...): a PHC string carries its own cost, and an
imported ``m=4194304`` would make every login of its user allocate 4 GiB.

**Equal work.** A login costs the same argon2 work (memory x passes, which
argon2-cffi computes on one thread) whether the username is unknown (a dummy
hash with :data:`PARAMETERS`), holds a current hash, or holds a cheaper
imported one: after a failed check of a cheaper hash the difference is spent
on a padding computation, so response times do not tell imported accounts
from missing ones. A correct password for a cheaper hash costs a rehash on
top (its owner knows the password: nothing to hide).

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
from argon2 import Parameters, PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from gearbox_db.errors import ValidationError

__all__ = [
    "MAX_HASH_LENGTH",
    "MAX_MEMORY_KIB",
    "MAX_PARALLELISM",
    "MAX_TIME_COST",
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

#: Bounds of the parameters of an accepted hash (imported, or stored earlier):
#: 4x the current memory (256 MiB), 10 passes, 16 lanes, 64-byte salts and hashes.
MAX_MEMORY_KIB: Final = 4 * PARAMETERS.memory_cost
MAX_TIME_COST: Final = 10
MAX_PARALLELISM: Final = 16
MAX_HASH_LENGTH: Final = 64
_TYPES: Final = (Type.ID, Type.I, Type.D)


def _work(parameters: Parameters) -> int:
    """argon2's work: KiB of memory filled, times passes (lanes run one after another)."""
    return parameters.memory_cost * parameters.time_cost


def _bounds_error(parameters: Parameters) -> str | None:
    """What is out of bounds in ``parameters`` (``None``: nothing)."""
    limits = {
        "memory_cost": (parameters.memory_cost, MAX_MEMORY_KIB),
        "time_cost": (parameters.time_cost, MAX_TIME_COST),
        "parallelism": (parameters.parallelism, MAX_PARALLELISM),
        "salt length": (parameters.salt_len, MAX_HASH_LENGTH),
        "hash length": (parameters.hash_len, MAX_HASH_LENGTH),
    }
    for what, (value, limit) in limits.items():
        if value > limit:
            return f"its {what} {value} is above the accepted {limit}"
    if parameters.type not in _TYPES or parameters.version != PARAMETERS.version:
        return "it is not an argon2 version 19 hash"
    return None


def _parameters(password_hash: object) -> Parameters | None:
    """The parameters of an acceptable argon2 PHC string (``None``: not one, or out of bounds)."""
    if not isinstance(password_hash, str):
        return None
    try:
        parameters = extract_parameters(password_hash)
    except (InvalidHashError, ValueError):
        return None
    return None if _bounds_error(parameters) else parameters


def _weaker(parameters: Parameters) -> bool:
    """Whether a hash with ``parameters`` is weaker than :data:`PARAMETERS` in some respect
    (then it is rehashed after a successful login; a stronger one never is)."""
    current = PARAMETERS
    return (
        parameters.type != current.type
        or parameters.memory_cost < current.memory_cost
        or parameters.time_cost < current.time_cost
        or parameters.salt_len < current.salt_len
        or parameters.hash_len < current.hash_len
    )


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
    """``password_hash`` if it is an argon2 PHC string within the accepted bounds (for
    imports), else ValidationError (naming the bound).

    argon2id is expected; argon2i and argon2d hashes are accepted and
    replaced by argon2id at the next successful login.
    """
    if not isinstance(password_hash, str):
        raise ValidationError("password_hash must be an argon2 PHC string")
    try:
        parameters = extract_parameters(password_hash)
    except (InvalidHashError, ValueError) as exc:
        raise ValidationError("password_hash must be an argon2 PHC string") from exc
    problem = _bounds_error(parameters)
    if problem:
        raise ValidationError(f"password_hash is refused: {problem}")
    return password_hash


def needs_rehash(password_hash: str) -> bool:
    """Whether ``password_hash`` is weaker than :data:`PARAMETERS` in some respect (or
    not an acceptable hash): a stronger hash is kept, never downgraded."""
    parameters = _parameters(password_hash)
    return parameters is None or _weaker(parameters)


def verify_password(password_hash: str, password: str) -> PasswordCheck:
    """Check ``password`` against the stored ``password_hash`` (constant time in the password).

    A malformed hash, or one out of bounds, never verifies (and costs the
    dummy verification, not its own parameters); a failed check of a cheaper
    hash spends the difference (module docstring: equal work). A non-string
    password is a ValidationError.
    """
    candidate = _password(password, new=False)
    parameters = _parameters(password_hash)
    if parameters is None:
        return spend_verification(candidate)
    try:
        _HASHER.verify(password_hash, candidate)
    except (VerificationError, InvalidHashError):
        _pad(_work(PARAMETERS) - _work(parameters), candidate)
        return PasswordCheck(valid=False)
    return PasswordCheck(valid=True, needs_rehash=_weaker(parameters))


@cache
def _padding_hasher(memory_cost: int, time_cost: int) -> PasswordHasher:
    return PasswordHasher(memory_cost=memory_cost, time_cost=time_cost, parallelism=1)


def _pad(work: int, password: str) -> None:
    """Spend about ``work`` (KiB x passes) of argon2 on ``password`` (nothing if <= 0)."""
    if work <= 0:
        return
    passes = -(-work // PARAMETERS.memory_cost)  # ceil: memory at most the current
    memory = max(8, round(work / passes))  # argon2's minimum is 8 KiB per lane
    _padding_hasher(memory, passes).hash(password)


#: A well-formed hash with :data:`PARAMETERS` that no password matches (its digest
#: was not computed from any): verifying against it costs exactly a real check.
_DUMMY_HASH: Final = (
    f"$argon2id$v={PARAMETERS.version}$m={PARAMETERS.memory_cost},"
    f"t={PARAMETERS.time_cost},p={PARAMETERS.parallelism}"
    "$Z2VhcmJveF9kYl9kdW1teQ$" + "A" * ((PARAMETERS.hash_len * 4 + 2) // 3)
)


def spend_verification(password: str) -> PasswordCheck:
    """Verify ``password`` against a dummy hash, always invalid.

    Called when the user does not exist, so that a login for an unknown
    username takes as long as one with a wrong password (no user enumeration
    by timing).
    """
    verify_password(_DUMMY_HASH, password)
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
