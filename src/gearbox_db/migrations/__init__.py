"""Schema migrations shipped inside the package, and a Python API to run them.

Services call these from their own startup (or their own Alembic ``env.py``)
instead of shelling out to the CLI::

    from gearbox_db import migrations
    migrations.upgrade("postgresql://app@db/gearbox")      # to head
    migrations.upgrade(connection)                          # on a Connection you own

No ``alembic.ini`` is needed: the script directory is this package. Our
version table is ``gearbox_db_version``, so a service that keeps its own
Alembic history in the same database does not collide with ours. Upgrades
and downgrades take a transaction-scoped PostgreSQL advisory lock, so several
replicas starting at once serialise: one migrates, the others wait and then
find the schema at head.
"""

from __future__ import annotations

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
from gearbox_db.schema import metadata

__all__ = [
    "LOCK_KEY",
    "VERSION_TABLE",
    "Revision",
    "check",
    "current",
    "downgrade",
    "head",
    "history",
    "include_object",
    "upgrade",
]

#: Alembic version table of gearbox_db (not ``alembic_version``).
VERSION_TABLE: Final = "gearbox_db_version"
#: Key of the transaction-level advisory lock held while migrating.
LOCK_KEY: Final = 0x6765_6172_626F_78  # "gearbox" in ASCII

Target = str | URL | Engine | Connection


@attrs.frozen
class Revision:
    """One migration of the package's history."""

    revision: str
    down_revision: str | None
    message: str
    is_head: bool


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "gearbox_db:migrations")
    cfg.attributes["connection"] = connection
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


def _run(target: Target, action: str, revision: str) -> None:
    try:
        with _connection(target) as connection:
            getattr(command, action)(_config(connection), revision)
    except GearboxDBError:
        raise
    except Exception as exc:
        raise MigrationError(f"{action} to {revision!r} failed: {exc}") from exc


def upgrade(target: Target, revision: str = "head") -> None:
    """Migrate the database at ``target`` (URL, Engine or Connection) up to ``revision``.

    Safe to call from several processes at once: an advisory lock serialises
    them and every caller returns once the schema is at ``revision``. On a
    Connection the caller owns, the migration runs in the caller's
    transaction if one is open, else in its own.
    """
    _run(target, "upgrade", revision)


def downgrade(target: Target, revision: str) -> None:
    """Migrate the database at ``target`` down to ``revision`` (``"base"`` removes everything)."""
    _run(target, "downgrade", revision)


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
