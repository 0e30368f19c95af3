"""How ``Database.connect`` connects: libpq settings, pool sizes, timeouts (no I/O).

Everything a session relies on holds through any pooler, because nothing
depends on the libpq ``options`` startup parameter (which Debian's PgBouncer
refuses, and which poolers told to ignore it silently drop):

* timestamps are converted to UTC as they are read (:mod:`._timestamps`),
  whatever the session's ``TimeZone``;
* ``statement_timeout`` is set for each transaction with
  ``set_config(..., true)``, sent in the same flight as the first statement.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL

from gearbox_db._queries._compiled import Bound
from gearbox_db._replicas import ReplicaPolicy
from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.errors import ConfigurationError

__all__ = [
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "ConnectSettings",
    "connect_settings",
    "replica_policy",
]

#: Extra seconds the client waits, beyond ``statement_timeout``, before it
#: gives up on a server that does not answer (see :mod:`._deadline`).
DEADLINE_MARGIN: Final = 1.0

BEGIN: Final = Bound("BEGIN", {})
COMMIT: Final = Bound("COMMIT", {})
ROLLBACK: Final = Bound("ROLLBACK", {})


def _positive(name: str, value: float | None, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise ConfigurationError(f"{name} must be a number of seconds above 0, got {value!r}")


@attrs.frozen
class ConnectSettings:
    """Validated settings of a pooled database (see ``Database.connect``)."""

    #: libpq connection string, password included: never in a repr.
    conninfo: str = attrs.field(repr=False)
    kwargs: dict[str, Any]
    min_size: int
    max_size: int
    pool_timeout: float
    max_idle: float
    connect_timeout: float
    statement_timeout: float | None
    prepared_statements: bool

    @property
    def deadline(self) -> float | None:
        """Seconds a statement may wait for its answer before the client gives up."""
        if self.statement_timeout is None:
            return None
        return self.statement_timeout + DEADLINE_MARGIN

    @property
    def timeout_setting(self) -> Bound | None:
        """The statement that sets ``statement_timeout`` for one transaction."""
        if self.statement_timeout is None:
            return None
        milliseconds = str(max(1, round(self.statement_timeout * 1000)))
        return Bound("SELECT set_config('statement_timeout', %(ms)s, true)", {"ms": milliseconds})

    def pool_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``psycopg_pool`` (``ConnectionPool`` or its async twin)."""
        return {
            "kwargs": self.kwargs,
            "min_size": self.min_size,
            "max_size": self.max_size,
            "timeout": self.pool_timeout,
            "max_idle": self.max_idle,
            "open": False,
            "name": "gearbox_db",
        }


def _conninfo(url: str | URL) -> str:
    """A libpq conninfo string for ``url`` (keywords, so nothing is re-encoded)."""
    parsed = to_sqlalchemy_url(url)
    params: dict[str, Any] = {
        key: ",".join(value) if isinstance(value, tuple) else value
        for key, value in parsed.query.items()
    }
    for key, value in (
        ("host", parsed.host),
        ("port", parsed.port),
        ("user", parsed.username),
        ("password", parsed.password),
        ("dbname", parsed.database),
    ):
        if value is not None:
            params[key] = value
    return make_conninfo("", **params)


def connect_settings(
    url: str | URL,
    *,
    pool_size: int,
    max_overflow: int,
    pool_timeout: float,
    max_idle: float,
    connect_timeout: float,
    statement_timeout: float | None,
    application_name: str,
    prepared_statements: bool,
) -> ConnectSettings:
    """The settings of ``Database.connect`` / ``AsyncDatabase.connect``, validated."""
    for name, value in (("pool_size", pool_size), ("max_overflow", max_overflow)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigurationError(f"{name} must be an integer >= 0, got {value!r}")
    if pool_size + max_overflow < 1:
        raise ConfigurationError("pool_size + max_overflow must allow at least one connection")
    _positive("pool_timeout", pool_timeout)
    _positive("max_idle", max_idle)
    _positive("connect_timeout", connect_timeout)
    _positive("statement_timeout", statement_timeout, optional=True)
    kwargs: dict[str, Any] = {
        "application_name": application_name,
        "autocommit": True,
        # libpq takes whole seconds (at least 2); psycopg enforces it on the whole attempt.
        "connect_timeout": max(2, round(connect_timeout)),
        # A dead host or a cut network ends a wait on an idle or busy connection.
        "keepalives": 1,
        "keepalives_idle": 15,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": 30_000,
        "prepare_threshold": 5 if prepared_statements else None,
    }
    return ConnectSettings(
        conninfo=_conninfo(url),
        kwargs=kwargs,
        min_size=pool_size,
        max_size=pool_size + max_overflow,
        pool_timeout=float(pool_timeout),
        max_idle=float(max_idle),
        connect_timeout=float(connect_timeout),
        statement_timeout=None if statement_timeout is None else float(statement_timeout),
        prepared_statements=prepared_statements,
    )


def replica_policy(replicas: object, max_replica_lag: float) -> ReplicaPolicy:
    """The policy of ``Database.connect``'s replicas, after checking its arguments."""
    if isinstance(replicas, str | URL) or not isinstance(replicas, list | tuple):
        raise ConfigurationError(f"replicas must be a list of URLs, got {type(replicas).__name__}")
    _positive("max_replica_lag", max_replica_lag)
    return ReplicaPolicy(max_replica_lag=float(max_replica_lag))
