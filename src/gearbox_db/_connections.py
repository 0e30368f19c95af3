"""One-off connections: what migrations, their ``env.py`` and the importer connect with.

Each opens one connection through an engine without a pool and disposes of
the engine afterwards. Like the repositories' connections, it relies on no
session setting (no ``options`` startup parameter, which poolers refuse or
drop): its timestamps are read in UTC by :mod:`gearbox_db._timestamps`. A
caller's ``Engine`` or ``Connection`` is used as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from gearbox_db import _timestamps
from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.errors import UnavailableError

__all__ = ["AsyncTarget", "Target", "connected", "one_off_async_engine", "one_off_engine"]

#: What a one-off connection is made from (synchronous API).
Target = str | URL | Engine | Connection | AsyncEngine
#: What the ``a``-prefixed coroutines of the migration API take.
AsyncTarget = str | URL | AsyncEngine | AsyncConnection


def one_off_engine(target: str | URL | AsyncEngine, application_name: str | None = None) -> Engine:
    """An engine without a pool for ``target`` (an ``AsyncEngine``: a synchronous
    engine of our own with its URL, password included); dispose of it after use."""
    url = target.url if isinstance(target, AsyncEngine) else target
    connect_args = {} if application_name is None else {"application_name": application_name}
    engine = create_engine(to_sqlalchemy_url(url), poolclass=NullPool, connect_args=connect_args)
    _timestamps.listen_on(engine, existing=False)
    return engine


def one_off_async_engine(target: str | URL) -> AsyncEngine:
    """An async engine without a pool for ``target``; dispose of it after use."""
    engine = create_async_engine(to_sqlalchemy_url(target), poolclass=NullPool)
    _timestamps.listen_on(engine, existing=False)
    return engine


@contextmanager
def connected(target: Target, *, application_name: str | None = None) -> Iterator[Connection]:
    """A connection to ``target``: a ``Connection`` itself, a new one of an
    ``Engine`` (closed after), else one of a one-off engine (disposed after).
    UnavailableError when no connection can be made."""
    if isinstance(target, Connection):
        yield target
        return
    engine = target if isinstance(target, Engine) else one_off_engine(target, application_name)
    try:
        try:
            connection = engine.connect()
        except SQLAlchemyError as exc:
            raise UnavailableError(f"cannot connect to the database: {exc}") from exc
        with connection:
            yield connection
    finally:
        if engine is not target:
            engine.dispose()
