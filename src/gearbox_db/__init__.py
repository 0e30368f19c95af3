"""gearbox_db: the PostgreSQL data layer of GearBox.

Importing this package does no I/O and creates no engine::

    from gearbox_db import Database

    db = Database.connect(url)
    item = db.items.create(name="Tarp", category_id=1, weight_grams=310.5)
    with db.transaction() as tx:
        tx.categories.delete(5)

``AsyncDatabase`` offers the same repositories, awaited.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gearbox_db.errors import (
    AuthorizationError,
    ConcurrencyError,
    ConfigurationError,
    ConflictError,
    GearboxDBError,
    InvalidReferenceError,
    InvalidStateError,
    MigrationError,
    NotFoundError,
    StatementTimeoutError,
    UnavailableError,
    ValidationError,
)
from gearbox_db.shapes import UNSET, Unset

__all__ = [
    "UNSET",
    "AsyncDatabase",
    "AsyncTransaction",
    "AuthorizationError",
    "ConcurrencyError",
    "ConfigurationError",
    "ConflictError",
    "Database",
    "GearboxDBError",
    "InvalidReferenceError",
    "InvalidStateError",
    "MigrationError",
    "NotFoundError",
    "StatementTimeoutError",
    "Transaction",
    "UnavailableError",
    "Unset",
    "ValidationError",
    "__version__",
]

__version__ = "0.1.0"

if TYPE_CHECKING:
    from gearbox_db._async.database import AsyncDatabase, AsyncTransaction
    from gearbox_db._sync.database import Database, Transaction

#: Loaded on first use, so that tools needing only part of the package (the
#: command line, migrations at startup) do not pay for both APIs.
_LAZY = {
    "AsyncDatabase": "gearbox_db._async.database",
    "AsyncTransaction": "gearbox_db._async.database",
    "Database": "gearbox_db._sync.database",
    "Transaction": "gearbox_db._sync.database",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'gearbox_db' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
