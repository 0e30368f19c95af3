"""The library's exceptions. Callers catch these, never a driver's.

Every exception raised from a database error chains the driver's original
(``raise ... from exc``), so ``__cause__`` still holds the SQLSTATE and the
server's message for logs.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "ConflictError",
    "GearboxDBError",
    "InvalidReferenceError",
    "InvalidStateError",
    "MigrationError",
    "NotFoundError",
    "UnavailableError",
    "ValidationError",
]


class GearboxDBError(Exception):
    """Root of every exception raised by gearbox_db."""


class ConfigurationError(GearboxDBError):
    """The library was set up wrongly: bad URL, missing optional dependency, ..."""


class UnavailableError(GearboxDBError):
    """The database cannot be reached, or no pooled connection came in time."""


class MigrationError(GearboxDBError):
    """A schema migration, or a schema check, failed."""


class NotFoundError(GearboxDBError):
    """The row asked for does not exist."""


class ConflictError(GearboxDBError):
    """The write would duplicate a unique value (a category name, a username, ...)."""


class InvalidReferenceError(GearboxDBError):
    """The write names a row that does not exist (an unknown category, ...)."""


class InvalidStateError(GearboxDBError):
    """The operation is not allowed in the row's current state."""


class ValidationError(GearboxDBError):
    """An input value is not acceptable (blank name, negative weight, NUL, ...)."""
