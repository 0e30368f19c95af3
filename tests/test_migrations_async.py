"""Migrations from async services, and their lock timeout (issue 10, point 2)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from gearbox_db import migrations
from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.errors import ConfigurationError, MigrationError
from tests.test_migrations import connect


async def test_aupgrade_and_adowngrade_take_an_async_engine(
    gearbox_empty_database_url: str,
) -> None:
    engine = create_async_engine(to_sqlalchemy_url(gearbox_empty_database_url), poolclass=NullPool)
    try:
        await migrations.aupgrade(engine)
        assert await migrations.acurrent(engine) == (migrations.head(),)
        await migrations.adowngrade(engine, "base")
        assert await migrations.acurrent(engine) == ()
    finally:
        await engine.dispose()


async def test_aupgrade_on_an_async_connection_runs_in_its_transaction(
    gearbox_empty_database_url: str,
) -> None:
    engine = create_async_engine(to_sqlalchemy_url(gearbox_empty_database_url), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            await migrations.aupgrade(conn)
            assert transaction.is_active
            assert await migrations.acurrent(conn) == (migrations.head(),)
            await transaction.rollback()
        assert await migrations.acurrent(gearbox_empty_database_url) == ()
    finally:
        await engine.dispose()


async def test_sync_upgrade_accepts_an_async_engine(gearbox_empty_database_url: str) -> None:
    engine = create_async_engine(to_sqlalchemy_url(gearbox_empty_database_url), poolclass=NullPool)
    try:
        migrations.upgrade(engine)
        assert migrations.current(engine) == (migrations.head(),)
        async with engine.connect() as conn:
            with pytest.raises(ConfigurationError, match="aupgrade"):
                migrations.upgrade(conn)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


def test_a_held_table_lock_fails_the_migration_after_lock_timeout(
    gearbox_database_url: str,
) -> None:
    url = gearbox_database_url
    with connect(url) as service:  # a service transaction that has read items
        service.execute(text("SELECT count(*) FROM items")).scalar_one()
        with pytest.raises(MigrationError, match=r"lock_timeout=0\.2s") as caught:
            migrations.downgrade(url, "base", lock_timeout=0.2)
        assert caught.value.sqlstate == "55P03"
        service.rollback()
    # The revisions undone before the one that waited are undone, that one is not: it
    # is still recorded, and upgrading completes the schema again.
    assert migrations.current(url) != ()
    migrations.upgrade(url)
    assert migrations.current(url) == (migrations.head(),)
    with connect(url) as conn:
        assert migrations.check(conn) == []


def test_the_callers_lock_timeout_survives_a_migration(gearbox_empty_database_url: str) -> None:
    with connect(gearbox_empty_database_url) as conn, conn.begin():
        conn.execute(text("SET LOCAL lock_timeout = '7s'"))
        migrations.upgrade(conn, lock_timeout=1)
        assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "7s"


def test_the_default_lock_timeout_is_bounded() -> None:
    assert migrations.DEFAULT_LOCK_TIMEOUT is not None
    assert 0 < migrations.DEFAULT_LOCK_TIMEOUT <= 30
