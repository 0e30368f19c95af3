"""Database URL handling: one place that knows our driver and how to mask secrets."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from gearbox_db.errors import ConfigurationError

__all__ = ["mask", "to_sqlalchemy_url"]

_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_AT_HINT = (
    "the database URL has more than one '@' before its host: percent-encode an '@' in "
    "the user name or password as %40 (postgresql://user:p%40ss@host/db)"
)


def _authority(url: str) -> str:
    """The ``user:password@host:port`` part of a URL string ('' if it has none)."""
    _, sep, rest = url.partition("://")
    if not sep:
        return ""
    for end in "/?#":
        rest = rest.split(end, 1)[0]
    return rest


def _check_userinfo(url: str | URL) -> None:
    if isinstance(url, str) and _authority(url).count("@") > 1:
        raise ConfigurationError(_AT_HINT)


def to_sqlalchemy_url(url: str | URL) -> URL:
    """Return ``url`` as a SQLAlchemy URL that uses psycopg 3.

    Accepts libpq-style ``postgresql://`` and ``postgres://`` URLs (as services
    and ``DATABASE_URL`` usually hold them) and ``postgresql+psycopg://``. A
    password given as ``?password=`` moves to the URL's password, which
    SQLAlchemy hides in ``repr(engine)`` and in its logs; an unencoded ``@``
    in a password is refused with a hint (its tail would pass for the host).
    """
    _check_userinfo(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a non-numeric port
        raise ConfigurationError(f"not a database URL: {mask(str(url))!r}") from exc
    if parsed.drivername not in _POSTGRES_SCHEMES:
        raise ConfigurationError(
            f"gearbox_db needs a PostgreSQL URL (postgresql://...), got scheme "
            f"{parsed.drivername!r}"
        )
    password = parsed.query.get("password")
    if isinstance(password, str):
        parsed = parsed.difference_update_query(["password"]).set(password=password)
    return parsed.set(drivername="postgresql+psycopg")


def mask(url: str | URL) -> str:
    """Render ``url`` with any password replaced by ``***`` (safe to print or log)."""
    if isinstance(url, str) and _authority(url).count("@") > 1:  # user:p@ss@host
        head, _, tail = url.partition("://")
        return f"{head}://***@{tail.split('/', 1)[0].rsplit('@', 1)[1]}/..."
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a non-numeric port
        return "<unparseable URL>"
    if "password" in parsed.query:  # libpq also takes it as ?password=...
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")
