"""Schema migrations shipped inside the package, and a Python API to run them.

Services call these from their own startup (or their own Alembic ``env.py``)
instead of shelling out to the CLI::

    from gearbox_db import migrations
    migrations.upgrade("postgresql://app@db/gearbox")      # to head
    migrations.upgrade(connection)                          # on a Connection you own
    await migrations.aupgrade(async_engine)                 # from async code

No ``alembic.ini`` is needed: the script directory is this package. Our
version table is ``gearbox_db_version``, so a service that keeps its own
Alembic history in the same database does not collide with ours; such a
service calls :func:`upgrade` from its ``env.py`` and passes
:func:`include_object` to its ``context.configure()`` so that its
autogenerate leaves our tables alone (docs/service.md). Upgrades and
downgrades take a transaction-scoped PostgreSQL advisory lock, so several
replicas starting at once serialise: one migrates, the others wait and then
find the schema at head. Once it holds that lock, a migration waits at most
``lock_timeout`` seconds for any table lock (a service transaction holding
one) and then fails with :class:`~gearbox_db.errors.MigrationError`, rather
than queueing every query of the service behind it.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.errors import GearboxDBError, MigrationError
from gearbox_db.migrations._targets import (
    AsyncTarget,
    Target,
    connection_for,
    preserved_alembic_proxies,
)
from gearbox_db.schema import metadata

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "LOCK_KEY",
    "VERSION_TABLE",
    "Revision",
    "acurrent",
    "adowngrade",
    "aupgrade",
    "check",
    "current",
    "downgrade",
    "head",
    "history",
    "include_object",
    "owned_table_names",
    "upgrade",
]

#: Alembic version table of gearbox_db (not ``alembic_version``).
VERSION_TABLE: Final = "gearbox_db_version"
#: Key of the transaction-level advisory lock held while migrating.
LOCK_KEY: Final = 0x6765_6172_626F_78  # "gearbox" in ASCII
#: Seconds a migration waits for a table lock before giving up (``None``: forever).
DEFAULT_LOCK_TIMEOUT: Final = 5.0


@attrs.frozen
class Revision:
    """One migration of the package's history."""

    revision: str
    down_revision: str | None
    message: str
    is_head: bool


def _config(connection: Connection | None = None, lock_timeout: float | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "gearbox_db:migrations")
    cfg.attributes["connection"] = connection
    cfg.attributes["lock_timeout"] = lock_timeout
    return cfg


def _run_on(connection: Connection, action: str, revision: str, lock_timeout: float | None) -> None:
    try:
        with preserved_alembic_proxies():
            getattr(command, action)(_config(connection, lock_timeout), revision)
    except GearboxDBError:
        raise
    except Exception as exc:
        raise _failure(action, revision, lock_timeout, exc) from exc


def _failure(
    action: str, revision: str, lock_timeout: float | None, exc: BaseException
) -> GearboxDBError:
    orig = getattr(exc, "orig", None) or exc
    if getattr(orig, "sqlstate", None) == "55P03":  # lock_not_available
        return MigrationError(
            f"{action} to {revision!r} gave up after lock_timeout={lock_timeout}s: another "
            "transaction holds a lock on a table it changes; retry when the service is "
            "quieter, or pass a longer lock_timeout",
            sqlstate="55P03",
        )
    return MigrationError(f"{action} to {revision!r} failed: {exc}")


def _run(target: Target, action: str, revision: str, lock_timeout: float | None) -> None:
    with connection_for(target) as connection:
        _run_on(connection, action, revision, lock_timeout)


def upgrade(
    target: Target, revision: str = "head", *, lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT
) -> None:
    """Migrate the database at ``target`` up to ``revision``.

    ``target`` is a URL, an ``Engine``, a ``Connection`` or an ``AsyncEngine``
    (for an ``AsyncConnection``, await :func:`aupgrade`). Safe to call from
    several processes at once: an advisory lock serialises them and every
    caller returns once the schema is at ``revision``. On a Connection the
    caller owns, the migration runs in the caller's transaction if one is
    open, else in its own; inside a host's Alembic ``env.py`` it leaves the
    host's Alembic context as it found it. A table lock not granted within
    ``lock_timeout`` seconds fails the migration with
    :class:`~gearbox_db.errors.MigrationError`.
    """
    _run(target, "upgrade", revision, lock_timeout)


def downgrade(
    target: Target, revision: str, *, lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT
) -> None:
    """Migrate the database at ``target`` down to ``revision`` (``"base"`` removes everything).

    Takes the same targets and ``lock_timeout`` as :func:`upgrade`.
    """
    _run(target, "downgrade", revision, lock_timeout)


async def _arun(
    target: AsyncTarget, action: str, revision: str, lock_timeout: float | None
) -> None:
    if isinstance(target, AsyncConnection):
        await target.run_sync(_run_on, action, revision, lock_timeout)
        return
    engine = target if isinstance(target, AsyncEngine) else _async_engine(target)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run_on, action, revision, lock_timeout)
    finally:
        if engine is not target:
            await engine.dispose()


def _async_engine(url: str | Any) -> AsyncEngine:
    return create_async_engine(to_sqlalchemy_url(url), poolclass=NullPool)


async def aupgrade(
    target: AsyncTarget,
    revision: str = "head",
    *,
    lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
) -> None:
    """:func:`upgrade` for async services: a URL, an ``AsyncEngine`` or an ``AsyncConnection``.

    On an ``AsyncConnection`` it runs in the caller's transaction.
    """
    await _arun(target, "upgrade", revision, lock_timeout)


async def adowngrade(
    target: AsyncTarget, revision: str, *, lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT
) -> None:
    """:func:`downgrade` for async services (the targets of :func:`aupgrade`)."""
    await _arun(target, "downgrade", revision, lock_timeout)


def _current_on(connection: Connection) -> tuple[str, ...]:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return tuple(context.get_current_heads())


async def acurrent(target: AsyncTarget) -> tuple[str, ...]:
    """:func:`current` for async services (the targets of :func:`aupgrade`)."""
    if isinstance(target, AsyncConnection):
        return await target.run_sync(_current_on)
    engine = target if isinstance(target, AsyncEngine) else _async_engine(target)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_on)
    finally:
        if engine is not target:
            await engine.dispose()


def current(target: Target) -> tuple[str, ...]:
    """Revisions the database at ``target`` is at; empty when it was never migrated."""
    with connection_for(target) as connection:
        return _current_on(connection)


def head() -> str:
    """The newest revision shipped in this package."""
    heads = ScriptDirectory.from_config(_config()).get_heads()
    assert len(heads) == 1, f"the migration history must be linear, found heads {heads}"
    return heads[0]


def history() -> list[Revision]:
    """Every shipped revision, newest first."""
    script = ScriptDirectory.from_config(_config())
    heads = set(script.get_heads())
    return [
        Revision(
            revision=rev.revision,
            down_revision=rev.down_revision if isinstance(rev.down_revision, str) else None,
            message=rev.doc or "",
            is_head=rev.revision in heads,
        )
        for rev in script.walk_revisions()
    ]


def owned_table_names() -> frozenset[str]:
    """Names of the tables gearbox_db owns in a database (its version table included)."""
    return frozenset(metadata.tables) | {VERSION_TABLE}


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate filter for a *host* service's Alembic: leave gearbox_db's tables alone.

    Pass it to ``context.configure(include_object=migrations.include_object)``
    in the service's ``env.py``: its ``alembic revision --autogenerate`` then
    proposes nothing about our tables, their indexes and constraints, nor our
    version table (they are ours to migrate).
    """
    table_name = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table_name not in owned_table_names()


def _own_tables_only(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate filter of our own ``check``: tables of other owners are ignored."""
    return not (type_ == "table" and reflected and compare_to is None)


def check(target: Target) -> list[Any]:
    """Differences between the database at ``target`` and the package's tables.

    Returns Alembic's autogenerate diff directives (an empty list when the
    schema matches), e.g. ``("add_column", None, "items", Column(...))`` for
    a column the database lacks. Tables of other owners are ignored.
    """
    with connection_for(target) as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": VERSION_TABLE,
                "include_object": _own_tables_only,
                "compare_type": True,
                "compare_server_default": True,
            },
        )
        return list(compare_metadata(context, metadata))
