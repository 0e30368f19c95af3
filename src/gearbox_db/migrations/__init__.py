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
autogenerate leaves our tables alone (docs/service.md). Upgrades
and downgrades take a PostgreSQL advisory lock, so several replicas starting
at once serialise: one migrates, the others wait (also while the first builds
an index ``CONCURRENTLY``) and then find the schema at head.

On a connection of its own, each revision commits on its own and big indexes
are built ``CONCURRENTLY`` between them; the advisory lock is then a session
lock, so the run needs a direct connection (or a session pooler): through a
transaction pooler it refuses before applying anything (:data:`POOLER_REFUSAL`).
Inside a transaction the caller opened, everything runs in that transaction
(indexes built without ``CONCURRENTLY``). Once it holds the advisory lock, a
migration waits at most ``lock_timeout`` seconds (:data:`DEFAULT_LOCK_TIMEOUT`)
for any table lock (a service transaction holding one) and then fails with
:class:`~gearbox_db.errors.MigrationError`, rather than queueing every query of
the service behind it.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any, Final

import attrs
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gearbox_db._connections import one_off_async_engine
from gearbox_db.errors import GearboxDBError, MigrationError
from gearbox_db.migrations._targets import (
    AsyncTarget,
    Target,
    connection_for,
    preserved_alembic_proxies,
)
from gearbox_db.schema import TRIGRAM_INDEX, metadata

__all__ = [
    "CONCURRENT_ATTRIBUTE",
    "DEFAULT_LOCK_TIMEOUT",
    "LOCK_KEY",
    "POOLER_REFUSAL",
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
    "stamp",
    "upgrade",
    "upgrade_sql",
]

#: Alembic version table of gearbox_db (not ``alembic_version``).
VERSION_TABLE: Final = "gearbox_db_version"
#: Key of the transaction-level advisory lock held while migrating.
LOCK_KEY: Final = 0x6765_6172_626F_78  # "gearbox" in ASCII
#: Seconds a migration statement waits for a table lock before it fails (and the
#: revision is rolled back; ``None``: forever): a migration never queues the
#: application behind it for long.
DEFAULT_LOCK_TIMEOUT: Final = 5.0
#: Key of ``Config.attributes``: whether the running revision may build ``CONCURRENTLY``.
CONCURRENT_ATTRIBUTE: Final = "gearbox_db.concurrently"
#: The error of a migration run through a transaction pooler.
POOLER_REFUSAL: Final = (
    "the migration's database session did not survive a commit (a transaction pooler such "
    "as PgBouncer in transaction mode?): migrate over a direct connection to PostgreSQL; "
    "nothing was applied by this step"
)


@attrs.frozen
class Revision:
    """One migration of the package's history."""

    revision: str
    down_revision: str | None
    message: str
    is_head: bool


def _config(
    connection: Connection | None = None,
    lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
    **options: Any,
) -> Config:
    cfg = Config(**options)
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
    open, else in its own transactions (one per revision, big indexes built
    ``CONCURRENTLY`` between them); inside a host's Alembic ``env.py`` it
    leaves the host's Alembic context as it found it. A table lock not
    granted within ``lock_timeout`` seconds fails the migration with
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
    # A connection of our own: the sync path (session lock, CONCURRENTLY builds)
    # in a worker thread, so that the event loop keeps turning.
    await asyncio.to_thread(_run, target, action, revision, lock_timeout)


async def aupgrade(
    target: AsyncTarget,
    revision: str = "head",
    *,
    lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
) -> None:
    """:func:`upgrade` for async services: a URL, an ``AsyncEngine`` or an ``AsyncConnection``.

    On an ``AsyncConnection`` with a transaction open it runs in the caller's transaction.
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
    engine = target if isinstance(target, AsyncEngine) else one_off_async_engine(target)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_on)
    finally:
        if engine is not target:
            await engine.dispose()


def stamp(target: Target, revision: str) -> None:
    """Record ``revision`` as the database's revision without running any migration.

    For a schema brought there by other means (a restored dump, a DBA who ran
    the SQL of :func:`upgrade_sql`); ``"base"`` forgets the revision.
    """
    _run(target, "stamp", revision, None)


def upgrade_sql(revision: str = "head", start: str | None = None) -> str:
    """The SQL an upgrade from ``start`` (default: an empty database) to ``revision`` runs.

    Nothing is executed, no database is needed: for a DBA's review or to run by
    hand. Statements that cannot run in a transaction (``CREATE INDEX
    CONCURRENTLY``) come between a ``COMMIT`` and the next ``BEGIN``.
    """
    buffer = io.StringIO()
    cfg = _config(output_buffer=buffer)
    cfg.set_main_option("sqlalchemy.url", "postgresql+psycopg://")
    span = f"{start}:{revision}" if start else revision
    try:
        command.upgrade(cfg, span, sql=True)
    except Exception as exc:
        raise MigrationError(f"cannot render the SQL of {span!r}: {exc}") from exc
    return buffer.getvalue()


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


def own_objects_only(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate filter of our own ``check`` and revisions: only gearbox_db's tables.

    Tables a host service keeps in the same database (reflected, with no
    counterpart in our metadata) are none of our business.
    """
    if type_ == "index" and name == TRIGRAM_INDEX:
        return False  # created only where pg_trgm is available (see the listing indexes)
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
                "include_object": own_objects_only,
                "compare_type": True,
                "compare_server_default": True,
            },
        )
        return list(compare_metadata(context, metadata))
