"""The library's exceptions. Callers catch these, never a driver's.

Every exception raised from a database error chains the driver's original
(``raise ... from exc``), so ``__cause__`` still holds the SQLSTATE and the
server's message for logs. :func:`translate` maps a driver error to ours by
its SQLSTATE and the name of the violated constraint (stable names from
:data:`gearbox_db.schema.NAMING_CONVENTION`), never by matching message text.
"""

from __future__ import annotations

from typing import Final

import psycopg
import psycopg_pool
import sqlalchemy.exc

__all__ = [
    "AuthorizationError",
    "ConcurrencyError",
    "ConfigurationError",
    "ConflictError",
    "GearboxDBError",
    "InvalidReferenceError",
    "InvalidStateError",
    "MigrationError",
    "NotFoundError",
    "StatementTimeoutError",
    "UnavailableError",
    "ValidationError",
    "translate",
]


class GearboxDBError(Exception):
    """Root of every exception raised by gearbox_db.

    ``sqlstate`` and ``constraint`` are set when the error comes from the
    server (``None`` otherwise).
    """

    def __init__(
        self, message: str, *, sqlstate: str | None = None, constraint: str | None = None
    ) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.constraint = constraint


class ConfigurationError(GearboxDBError):
    """The library was set up wrongly: bad URL, missing optional dependency, ..."""


class UnavailableError(GearboxDBError):
    """The database cannot be reached, no connection came in time, or a statement timed out."""


class StatementTimeoutError(UnavailableError):
    """A statement ran longer than ``statement_timeout`` and the server cancelled it
    (SQLSTATE 57014): the database is up, but too slow for this statement."""


class MigrationError(GearboxDBError):
    """A schema migration, or a schema check, failed."""


class NotFoundError(GearboxDBError):
    """The row asked for does not exist."""


class ConflictError(GearboxDBError):
    """The write would duplicate a unique value (a category name, a username, ...)."""


class InvalidReferenceError(GearboxDBError):
    """The write names a row that does not exist (an unknown category, item, ...)."""


class InvalidStateError(GearboxDBError):
    """The operation is not allowed in the current state (resolving a resolved thread, ...)."""


class ValidationError(GearboxDBError):
    """An input value is not acceptable (blank name, negative weight, NUL, ...)."""


class AuthorizationError(GearboxDBError):
    """A presented credential grants nothing: an OAuth code that is unknown, expired,
    already used, of another client or redirect URI, or whose PKCE verifier does not
    match; a refresh token that is unknown, expired, revoked or already rotated; a
    redirect URI the client did not register. OAuth's ``invalid_grant`` (RFC 6749,
    section 5.2); the message says which rule failed, for logs, not for the client."""


class ConcurrencyError(GearboxDBError):
    """A concurrent transaction got in the way (deadlock, serialization failure): retry."""


#: Human wording of the constraints a caller can run into.
_CONSTRAINT_MESSAGES: Final = {
    "uq_categories_name": "a category with this name already exists",
    "uq_setup_items_setup_id_item_id": "the item is already in this setup",
    "uq_users_username": "a user with this username already exists",
    "uq_oauth_clients_client_id": "an OAuth client with this client_id already exists",
    "pk_settings": "a setting with this key already exists",
    "fk_items_category_id_categories": "the category does not exist",
    "fk_threads_category_id_categories": "the category does not exist",
    "fk_thread_candidates_category_id_categories": "the category does not exist",
    "fk_thread_candidates_thread_id_threads": "the thread does not exist",
    "fk_threads_resolved_candidate_id_thread_candidates": "the candidate does not exist",
    "fk_setup_items_setup_id_setups": "the setup does not exist",
    "fk_setup_items_item_id_items": "the item does not exist",
    "fk_sessions_user_id_users": "the user does not exist",
    "fk_api_keys_user_id_users": "the user does not exist",
    "fk_oauth_codes_user_id_users": "the user does not exist",
    "fk_oauth_tokens_user_id_users": "the user does not exist",
    "fk_oauth_codes_client_id_oauth_clients": "the OAuth client does not exist",
    "fk_oauth_tokens_client_id_oauth_clients": "the OAuth client does not exist",
}

#: SQLSTATEs whose class differs from that of their SQLSTATE class (below).
_BY_SQLSTATE: Final[dict[str, type[GearboxDBError]]] = {
    "08P01": ConfigurationError,  # protocol_violation: a pooler or proxy speaking wrongly
    "23505": ConflictError,  # unique_violation
    "23P01": ConflictError,  # exclusion_violation
    "23503": InvalidReferenceError,  # foreign_key_violation
    "23001": InvalidReferenceError,  # restrict_violation (ON DELETE RESTRICT, PostgreSQL >= 18)
    "25006": ConfigurationError,  # read_only_sql_transaction: writing to a read replica
    "42501": ConfigurationError,  # insufficient_privilege
    "42P05": ConfigurationError,  # duplicate_prepared_statement (a transaction pooler)
    "42P01": MigrationError,  # undefined_table: the schema is not at the package's head
    "42703": MigrationError,  # undefined_column
    "42883": MigrationError,  # undefined_function
    "42704": MigrationError,  # undefined_object
    "55P03": ConcurrencyError,  # lock_not_available
    "55006": ConcurrencyError,  # object_in_use
    "57014": StatementTimeoutError,  # query_canceled (statement_timeout)
}

#: Every SQLSTATE class (first two characters), mapped deliberately. Classes not
#: listed (warnings, routine and trigger exceptions, internal errors, and the
#: syntax errors of class 42 not listed above, that is bugs of the library) are
#: the base GearboxDBError.
_BY_CLASS: Final[dict[str, type[GearboxDBError]]] = {
    "08": UnavailableError,  # connection exception
    "0A": ConfigurationError,  # feature not supported (a server too old)
    "0B": InvalidStateError,  # invalid transaction initiation
    "0L": ConfigurationError,  # invalid grantor
    "0P": ConfigurationError,  # invalid role specification
    "22": ValidationError,  # data exception (out of range, bad text, bad datetime, ...)
    "23": ValidationError,  # integrity constraint violation (NOT NULL, CHECK, ...)
    "24": InvalidStateError,  # invalid cursor state
    "25": InvalidStateError,  # invalid transaction state
    "26": ConfigurationError,  # invalid SQL statement name (prepared statements and poolers)
    "27": InvalidStateError,  # triggered data change violation
    "28": ConfigurationError,  # invalid authorization specification (bad password)
    "2B": ConfigurationError,  # dependent privilege descriptors still exist
    "2D": InvalidStateError,  # invalid transaction termination
    "34": InvalidStateError,  # invalid cursor name
    "3B": InvalidStateError,  # savepoint exception
    "3D": ConfigurationError,  # invalid catalog name (no such database)
    "3F": MigrationError,  # invalid schema name
    "40": ConcurrencyError,  # transaction rollback (serialization failure, deadlock)
    "44": ValidationError,  # WITH CHECK OPTION violation
    "53": UnavailableError,  # insufficient resources (disk full, out of memory, connections)
    "54": ValidationError,  # program limit exceeded (a value too large for an index, ...)
    "55": InvalidStateError,  # object not in prerequisite state
    "57": UnavailableError,  # operator intervention (shutdown, cancel, crash recovery)
    "58": UnavailableError,  # system error (I/O)
    "72": ConcurrencyError,  # snapshot too old: retry
    "F0": ConfigurationError,  # configuration file error
}

#: The SQLSTATE each kind of constraint (prefix of its name) reports when violated:
#: a constraint's message is used only for that SQLSTATE.
_CONSTRAINT_SQLSTATES: Final = {"uq": "23505", "pk": "23505", "fk": "23503", "ck": "23514"}


def _class_for(sqlstate: str | None) -> type[GearboxDBError]:
    if sqlstate is None:
        return GearboxDBError
    if sqlstate in _BY_SQLSTATE:
        return _BY_SQLSTATE[sqlstate]
    return _BY_CLASS.get(sqlstate[:2], GearboxDBError)


def _constraint_detail(constraint: str | None, sqlstate: str | None) -> str | None:
    """The wording of a violated constraint, if ``sqlstate`` is that constraint's."""
    if not constraint or sqlstate != _CONSTRAINT_SQLSTATES.get(constraint.split("_", 1)[0]):
        return None
    return _CONSTRAINT_MESSAGES.get(constraint) or (
        f"value refused by {constraint}" if sqlstate == "23514" else None
    )


def _is_disconnect(exc: BaseException) -> bool:
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sqlalchemy.exc.OperationalError | psycopg.OperationalError)


def translate(exc: BaseException) -> GearboxDBError:
    """The library error for a driver or SQLAlchemy error (the caller chains ``exc``)."""
    if isinstance(exc, GearboxDBError):
        return exc
    if isinstance(exc, sqlalchemy.exc.TimeoutError | psycopg_pool.PoolTimeout):
        return UnavailableError(f"no database connection came in time: {exc}")
    if isinstance(exc, psycopg_pool.PoolClosed):
        return InvalidStateError("the database was closed: connect again")
    orig = getattr(exc, "orig", None) or exc
    sqlstate = getattr(orig, "sqlstate", None)
    diag = getattr(orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    if sqlstate is None and _is_disconnect(exc):
        return UnavailableError(f"the database is unavailable: {orig}")
    if sqlstate is None and isinstance(orig, psycopg.DataError):  # e.g. NUL in text, client-side
        return ValidationError(str(orig))
    detail = _constraint_detail(constraint, sqlstate) or str(orig).strip()
    return _class_for(sqlstate)(detail, sqlstate=sqlstate, constraint=constraint)
