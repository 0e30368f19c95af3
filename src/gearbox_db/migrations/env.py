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


def _set_lock_timeout(connection: Connection, value: str) -> None:
    connection.execute(text("SELECT set_config('lock_timeout', :value, true)"), {"value": value})


def _run_online(connection: Connection, lock_timeout: float | None) -> None:
    context.configure(connection=connection, **_OPTIONS)
    with context.begin_transaction():
        # Serialise concurrent migrators (replicas starting together): the
        # lock lives until this transaction ends, and the version table is
        # read only after it is held. Replicas wait for each other as long as
        # it takes; table locks held by the service's own transactions only
        # for lock_timeout (queued DDL would stall every query behind it).
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        previous = connection.execute(text("SHOW lock_timeout")).scalar_one()
        if lock_timeout is not None:
            _set_lock_timeout(connection, f"{max(1, round(lock_timeout * 1000))}ms")
        context.run_migrations()
        _set_lock_timeout(connection, str(previous))  # a caller's transaction goes on


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
    lock_timeout = config.attributes.get("lock_timeout")
    if connection is not None:
        _run_online(connection, lock_timeout)
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url, "gearbox_db migrations need a connection or sqlalchemy.url"
    engine = create_engine(to_sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _run_online(connection, lock_timeout)
            connection.commit()
    finally:
        engine.dispose()


_main()
