"""gearbox_db: the PostgreSQL data layer of GearBox.

Importing this package does no I/O and creates no engine.
"""

from __future__ import annotations

from gearbox_db.errors import (
    ConfigurationError,
    ConflictError,
    GearboxDBError,
    InvalidReferenceError,
    InvalidStateError,
    MigrationError,
    NotFoundError,
    UnavailableError,
    ValidationError,
)

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
    "__version__",
]

__version__ = "0.1.0"
