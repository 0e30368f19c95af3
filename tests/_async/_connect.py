"""How the suite's own pools connect (async source of the sync twin).

Through a transaction pooler without prepared-statement support (CI runs
these tests through Debian's PgBouncer 1.18, naming the direct server in
``GEARBOX_DB_TEST_ADMIN_URL``) a pool must not prepare statements.
"""

from __future__ import annotations

import os
from typing import Any

from gearbox_db import AsyncDatabase

__all__ = ["THROUGH_POOLER", "connect"]

THROUGH_POOLER = bool(os.environ.get("GEARBOX_DB_TEST_ADMIN_URL"))


def connect(url: str, **options: Any) -> AsyncDatabase:
    """``AsyncDatabase.connect(url, ...)``, pooler-safe when the suite runs through one."""
    return AsyncDatabase.connect(url, prepared_statements=not THROUGH_POOLER, **options)
