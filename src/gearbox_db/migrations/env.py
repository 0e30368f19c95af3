"""Alembic environment of gearbox_db (run by :mod:`gearbox_db.migrations`).

Three ways to run:

* **offline** (``gearbox-db upgrade --sql``): the SQL is printed, with the lock timeout
  each revision runs under; ``CONCURRENTLY`` builds are printed outside the transaction.
* **online, on a connection of its own** (a URL, an Engine, or a Connection with no
  transaction open): a *session* advisory lock serialises concurrent migrators across
  the transactions of the run (each revision commits on its own, and index builds
  ``CONCURRENTLY`` run between them, outside any transaction). Session state must
  survive between transactions, which a transaction pooler does not guarantee: the run
  checks that first and refuses, before anything is applied.
* **online, inside the caller's transaction**: everything runs in that transaction,
  under a transaction advisory lock; indexes are then built without ``CONCURRENTLY``.
"""

from __future__ import annotations

import secrets
from contextlib import suppress
from typing import Any

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from gearbox_db._connections import connected
from gearbox_db.errors import MigrationError
from gearbox_db.migrations import (
    CONCURRENT_ATTRIBUTE,
    DEFAULT_LOCK_TIMEOUT,
    LOCK_KEY,
    POOLER_REFUSAL,
    VERSION_TABLE,
    own_objects_only,
)
from gearbox_db.schema import metadata

_OPTIONS: dict[str, Any] = {
    "target_metadata": metadata,
    "version_table": VERSION_TABLE,
    "include_object": own_objects_only,
    "compare_type": True,
}
_PROBE = "gearbox_db.migrator"
#: Channel on which a migrator says it released the lock, and seconds between two tries.
_CHANNEL = "gearbox_db_migrations"
_RETRY = 1.0
#: Transactions in a row that must see the session's own setting before anything runs.
_PROBES = 3


def _lock_timeout() -> str:
    """The lock timeout of the run as a PostgreSQL setting (``0``: wait forever)."""
    seconds = context.config.attributes.get("lock_timeout", DEFAULT_LOCK_TIMEOUT)
    return "0" if seconds is None else f"{max(1, round(float(seconds) * 1000))}ms"


def _scalar(connection: Connection, sql: str, **params: Any) -> Any:
    return connection.execute(text(sql), params).scalar()


def _check_session(connection: Connection, token: str) -> None:
    """Refuse when this session's state did not survive the last commit (a pooler)."""
    if _scalar(connection, "SELECT current_setting(:name, true)", name=_PROBE) != token:
        raise MigrationError(POOLER_REFUSAL)


def _claim_session(connection: Connection) -> str:
    """Mark the session, and check over a few transactions that it stays ours."""
    token = secrets.token_hex(16)
    _scalar(connection, "SELECT set_config(:name, :token, false)", name=_PROBE, token=token)
    connection.commit()
    for _ in range(_PROBES):
        _check_session(connection, token)
        connection.commit()
    return token


def _run_in_own_transactions(connection: Connection) -> None:
    token = _claim_session(connection)
    previous = _scalar(connection, "SELECT current_setting('lock_timeout')")
    connection.commit()
    _acquire(connection)
    try:
        _check_session(connection, token)
        _scalar(connection, "SELECT set_config('lock_timeout', :t, false)", t=_lock_timeout())
        connection.commit()
        context.configure(
            connection=connection,
            transaction_per_migration=True,
            on_version_apply=lambda **_: _check_session(connection, token),
            **_OPTIONS,
        )
        context.config.attributes[CONCURRENT_ATTRIBUTE] = True
        with context.begin_transaction():
            context.run_migrations()
    except BaseException:
        with suppress(SQLAlchemyError):  # the original error matters more
            _release(connection, previous)
        raise
    _release(connection, previous)


def _acquire(connection: Connection) -> None:
    """Take the session advisory lock, waiting as long as another migrator holds it.

    The wait happens outside any transaction: a ``CREATE INDEX CONCURRENTLY`` of the
    holder waits for every transaction with an older snapshot, so a waiter blocked in
    ``pg_advisory_lock()`` (a statement, with a snapshot) would deadlock with it. The
    waiter listens instead; the holder notifies when it releases the lock, and the
    waiter tries again at least every :data:`_RETRY` seconds (a holder that died).
    A waiting migrator is an idle session whose last statement is
    ``SELECT pg_try_advisory_lock(...)`` (what the tests look for).
    """
    driver = connection.connection.driver_connection
    assert driver is not None
    level = connection.get_isolation_level()
    connection.execution_options(isolation_level="AUTOCOMMIT")  # no BEGIN, no snapshot
    try:
        connection.execute(text(f"LISTEN {_CHANNEL}"))
        while not _scalar(connection, "SELECT pg_try_advisory_lock(:key)", key=LOCK_KEY):
            for _ in driver.notifies(timeout=_RETRY, stop_after=1):
                pass
        connection.execute(text(f"UNLISTEN {_CHANNEL}"))
    finally:
        connection.commit()  # ends SQLAlchemy's transaction; the server has none
        connection.execution_options(isolation_level=level)


def _release(connection: Connection, lock_timeout: str) -> None:
    """Unlock, and give the session its lock timeout back (after an error too)."""
    if connection.in_transaction():
        connection.rollback()
    _scalar(connection, "SELECT pg_advisory_unlock(:key)", key=LOCK_KEY)
    connection.execute(text(f"NOTIFY {_CHANNEL}"))
    _scalar(connection, "SELECT set_config('lock_timeout', :t, false)", t=lock_timeout)
    _scalar(connection, "SELECT set_config(:name, '', false)", name=_PROBE)
    connection.commit()


def _run_in_callers_transaction(connection: Connection) -> None:
    context.configure(connection=connection, **_OPTIONS)
    context.config.attributes[CONCURRENT_ATTRIBUTE] = False
    with context.begin_transaction():
        # Serialise concurrent migrators: the lock lives until this transaction
        # ends, and the version table is read only after it is held.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        previous = _scalar(connection, "SELECT current_setting('lock_timeout')")
        _scalar(connection, "SELECT set_config('lock_timeout', :t, true)", t=_lock_timeout())
        context.run_migrations()
        # the caller's transaction goes on with its own setting
        _scalar(connection, "SELECT set_config('lock_timeout', :t, true)", t=previous)


def _run_online(connection: Connection) -> None:
    if connection.in_transaction():
        _run_in_callers_transaction(connection)
    else:
        _run_in_own_transactions(connection)


def _run_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        transaction_per_migration=True,
        **_OPTIONS,
    )
    context.config.attributes[CONCURRENT_ATTRIBUTE] = True
    with context.begin_transaction():
        context.execute(f"SET lock_timeout = '{_lock_timeout()}'")
        context.run_migrations()


def _main() -> None:
    config = context.config
    if context.is_offline_mode():
        _run_offline()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_online(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url, "gearbox_db migrations need a connection or sqlalchemy.url"
    with connected(url) as connection:
        _run_online(connection)
        connection.commit()


_main()
