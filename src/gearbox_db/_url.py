"""Database URL handling: one place that knows our driver and how to mask secrets."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from gearbox_db.errors import ConfigurationError

__all__ = ["mask", "to_sqlalchemy_url"]

_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def to_sqlalchemy_url(url: str | URL) -> URL:
    """Return ``url`` as a SQLAlchemy URL that uses psycopg 3.

    Accepts libpq-style ``postgresql://`` and ``postgres://`` URLs (as services
    and ``DATABASE_URL`` usually hold them) and ``postgresql+psycopg://``.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a non-numeric port
        raise ConfigurationError(f"not a database URL: {mask(str(url))!r}") from exc
    if parsed.drivername not in _POSTGRES_SCHEMES:
        raise ConfigurationError(
            f"gearbox_db needs a PostgreSQL URL (postgresql://...), got scheme "
            f"{parsed.drivername!r}"
        )
    return parsed.set(drivername="postgresql+psycopg")


def mask(url: str | URL) -> str:
    """Render ``url`` with any password replaced by ``***`` (safe to print or log)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a non-numeric port
        return "<unparseable URL>"
    if "password" in parsed.query:  # libpq also takes it as ?password=...
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")
