"""Schema migrations shipped inside the package, and a Python API to run them.

Services call these from their own startup (or their own Alembic ``env.py``)
instead of shelling out to the CLI::

    from gearbox_db import migrations
    migrations.upgrade("postgresql://app@db/gearbox")      # to head
    migrations.upgrade(connection)                          # on a Connection you own

No ``alembic.ini`` is needed: the script directory is this package. Our
version table is ``gearbox_db_version``, so a service that keeps its own
Alembic history in the same database does not collide with ours. Upgrades
and downgrades take a PostgreSQL advisory lock, so several replicas starting
at once serialise: one migrates, the others wait (also while the first builds
an index ``CONCURRENTLY``) and then find the schema at head.

On a connection of its own, each revision commits on its own and big indexes
are built ``CONCURRENTLY`` between them; the advisory lock is then a session
lock, so the run needs a direct connection (or a session pooler): through a
transaction pooler it refuses before applying anything (:data:`POOLER_REFUSAL`).
Inside a transaction the caller opened, everything runs in that transaction
(indexes built without ``CONCURRENTLY``). Every statement waits at most
:data:`LOCK_TIMEOUT` for a table lock.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import attrs
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.errors import GearboxDBError, MigrationError, UnavailableError, translate
from gearbox_db.schema import TRIGRAM_INDEX, metadata

__all__ = [
    "CONCURRENT_ATTRIBUTE",
    "LOCK_KEY",
    "LOCK_TIMEOUT",
    "POOLER_REFUSAL",
    "VERSION_TABLE",
    "Revision",
    "check",
    "current",
    "downgrade",
    "head",
    "history",
    "include_object",
    "stamp",
    "upgrade",
    "upgrade_sql",
]

#: Alembic version table of gearbox_db (not ``alembic_version``).
VERSION_TABLE: Final = "gearbox_db_version"
#: Key of the transaction-level advisory lock held while migrating.
LOCK_KEY: Final = 0x6765_6172_626F_78  # "gearbox" in ASCII
#: How long a migration statement waits for a table lock before it fails (and the
#: revision is rolled back): a migration never queues the application behind it for long.
LOCK_TIMEOUT: Final = "5s"
#: Key of ``Config.attributes``: whether the running revision may build ``CONCURRENTLY``.
CONCURRENT_ATTRIBUTE: Final = "gearbox_db.concurrently"
#: The error of a migration run through a transaction pooler.
POOLER_REFUSAL: Final = (
    "the migration's database session did not survive a commit (a transaction pooler such "
    "as PgBouncer in transaction mode?): migrate over a direct connection to PostgreSQL; "
    "nothing was applied by this step"
)

Target = str | URL | Engine | Connection


@attrs.frozen
class Revision:
    """One migration of the package's history."""

    revision: str
    down_revision: str | None
    message: str
    is_head: bool


def _config(
    connection: Connection | None = None, lock_timeout: str = LOCK_TIMEOUT, **options: Any
) -> Config:
    cfg = Config(**options)
    cfg.set_main_option("script_location", "gearbox_db:migrations")
    cfg.attributes["connection"] = connection
    cfg.attributes["lock_timeout"] = lock_timeout
    return cfg


@contextmanager
def _connection(target: Target) -> Iterator[Connection]:
    """Yield a connection for ``target``; one made here is closed (and committed) here."""
    if isinstance(target, Connection):
        yield target
        return
    engine = (
        target
        if isinstance(target, Engine)
        else create_engine(to_sqlalchemy_url(target), poolclass=NullPool)
    )
    try:
        try:
            connection = engine.connect()
        except SQLAlchemyError as exc:
            raise UnavailableError(f"cannot connect to the database: {exc}") from exc
        with connection:
            try:
                yield connection
                connection.commit()
            except SQLAlchemyError as exc:
                raise translate(exc) from exc
    finally:
        if engine is not target:
            engine.dispose()


def _run(target: Target, action: str, revision: str, lock_timeout: str = LOCK_TIMEOUT) -> None:
    try:
        with _connection(target) as connection:
            getattr(command, action)(_config(connection, lock_timeout), revision)
    except GearboxDBError:
        raise
    except Exception as exc:
        raise MigrationError(f"{action} to {revision!r} failed: {exc}") from exc


def upgrade(target: Target, revision: str = "head", *, lock_timeout: str = LOCK_TIMEOUT) -> None:
    """Migrate the database at ``target`` (URL, Engine or Connection) up to ``revision``.

    Safe to call from several processes at once: an advisory lock serialises
    them and every caller returns once the schema is at ``revision``. On a
    Connection the caller owns, the migration runs in the caller's
    transaction if one is open, else in its own transactions (one per
    revision, big indexes built ``CONCURRENTLY`` between them).
    ``lock_timeout`` (a PostgreSQL interval) bounds every wait for a table lock.
    """
    _run(target, "upgrade", revision, lock_timeout)


def downgrade(target: Target, revision: str, *, lock_timeout: str = LOCK_TIMEOUT) -> None:
    """Migrate the database at ``target`` down to ``revision`` (``"base"`` removes everything)."""
    _run(target, "downgrade", revision, lock_timeout)


def stamp(target: Target, revision: str) -> None:
    """Record ``revision`` as the database's revision without running any migration.

    For a schema brought there by other means (a restored dump, a DBA who ran
    the SQL of :func:`upgrade_sql`); ``"base"`` forgets the revision.
    """
    _run(target, "stamp", revision)


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
    with _connection(target) as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return tuple(context.get_current_heads())


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


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate filter: compare only gearbox_db's own tables.

    Tables a host service keeps in the same database (reflected, with no
    counterpart in our metadata) are none of our business.
    """
    if type_ == "index" and name == TRIGRAM_INDEX:
        return False  # created only where pg_trgm is available (see migration 0002)
    return not (type_ == "table" and reflected and compare_to is None)


def check(target: Target) -> list[Any]:
    """Differences between the database at ``target`` and the package's tables.

    Returns Alembic's autogenerate diff directives (an empty list when the
    schema matches), e.g. ``("add_column", None, "items", Column(...))`` for
    a column the database lacks. Tables of other owners are ignored.
    """
    with _connection(target) as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": VERSION_TABLE,
                "include_object": include_object,
                "compare_type": True,
                "compare_server_default": True,
            },
        )
        return list(compare_metadata(context, metadata))
