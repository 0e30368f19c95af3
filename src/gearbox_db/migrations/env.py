"""Alembic environment of gearbox_db (run by :mod:`gearbox_db.migrations`)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.migrations import LOCK_KEY, VERSION_TABLE, include_object
from gearbox_db.schema import metadata

_OPTIONS: dict[str, Any] = {
    "target_metadata": metadata,
    "version_table": VERSION_TABLE,
    "include_object": include_object,
    "compare_type": True,
}


def _run_online(connection: Connection) -> None:
    context.configure(connection=connection, **_OPTIONS)
    with context.begin_transaction():
        # Serialise concurrent migrators (replicas starting together): the
        # lock lives until this transaction ends, and the version table is
        # read only after it is held.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        context.run_migrations()


def _main() -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **_OPTIONS
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_online(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url, "gearbox_db migrations need a connection or sqlalchemy.url"
    engine = create_engine(to_sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _run_online(connection)
            connection.commit()
    finally:
        engine.dispose()


_main()
