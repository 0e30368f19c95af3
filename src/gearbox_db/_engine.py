"""Engine options shared by ``Database.connect`` and ``AsyncDatabase.connect``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL

__all__ = ["engine_options", "session_url"]


def session_url(url: URL, *, statement_timeout: float | None) -> URL:
    """``url`` with our session settings added to its libpq ``options``.

    Sessions run in UTC (records promise UTC timestamps whatever the server's
    or the database's ``TimeZone``) and, if asked, with a statement timeout.
    Settings already in the URL's ``options`` (a ``search_path``, ...) are kept
    and come first; ours are appended.
    """
    settings = ["-c TimeZone=UTC"]
    if statement_timeout:
        settings.append(f"-c statement_timeout={round(statement_timeout * 1000)}")
    existing = url.query.get("options")
    given = " ".join(existing) if isinstance(existing, tuple) else existing
    return url.update_query_dict({"options": " ".join(filter(None, [given, *settings]))})


def engine_options(
    *,
    pool_size: int,
    max_overflow: int,
    pool_timeout: float,
    application_name: str,
) -> dict[str, Any]:
    """Keyword arguments for SQLAlchemy's ``create_engine`` / ``create_async_engine``."""
    return {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": pool_timeout,
        "pool_pre_ping": True,
        "pool_recycle": 1800,
        "connect_args": {"application_name": application_name},
        # Statement parameters hold password and token hashes: never in logs
        # (echo, DEBUG logging) nor in SQLAlchemy's error messages.
        "hide_parameters": True,
    }
