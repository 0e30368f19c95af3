"""Engine options shared by ``Database.connect`` and ``AsyncDatabase.connect``."""

from __future__ import annotations

from typing import Any

__all__ = ["engine_options"]


def engine_options(
    *,
    pool_size: int,
    max_overflow: int,
    pool_timeout: float,
    statement_timeout: float | None,
    application_name: str,
) -> dict[str, Any]:
    """Keyword arguments for SQLAlchemy's ``create_engine`` / ``create_async_engine``."""
    options = f"-c statement_timeout={round(statement_timeout * 1000)}" if statement_timeout else ""
    return {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": pool_timeout,
        "pool_pre_ping": True,
        "pool_recycle": 1800,
        "connect_args": {"application_name": application_name, "options": options},
    }
