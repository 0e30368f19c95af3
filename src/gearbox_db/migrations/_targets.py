"""Connections for the migration API: URLs, engines and connections, sync or async."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import alembic.context
import alembic.op
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from gearbox_db._connections import AsyncTarget, Target, connected
from gearbox_db.errors import ConfigurationError, translate

__all__ = ["AsyncTarget", "Target", "connection_for", "preserved_alembic_proxies"]


@contextmanager
def connection_for(target: Target | AsyncConnection) -> Iterator[Connection]:
    """Yield a connection for ``target``; one made here is closed (and committed) here."""
    if isinstance(target, AsyncConnection):
        raise ConfigurationError(
            "an AsyncConnection needs the async API: await migrations.aupgrade(connection) "
            "(or adowngrade / acurrent)"
        )
    if isinstance(target, Connection):
        yield target
        return
    with connected(target) as connection:
        try:
            yield connection
            connection.commit()
        except SQLAlchemyError as exc:
            raise translate(exc) from exc


@contextmanager
def preserved_alembic_proxies() -> Iterator[None]:
    """Keep the ``alembic.context`` and ``alembic.op`` of an Alembic run in progress.

    A host service's ``env.py`` calls us while its own Alembic environment is
    installed as ``alembic.context``; our nested run installs ours and, on
    leaving, removes the proxy, which would leave the host's ``env.py`` with
    no context at all. Reinstall whatever was there.
    """
    outer = [
        proxy
        for proxy in (getattr(alembic.context, "_proxy", None), getattr(alembic.op, "_proxy", None))
        if proxy is not None
    ]
    try:
        yield
    finally:
        for proxy in outer:
            proxy._install_proxy()
