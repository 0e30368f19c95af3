"""One-off connections (migrations, their env.py, the importer): one helper, UTC sessions."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import create_engine, text

from gearbox_db._connections import connected, one_off_async_engine
from gearbox_db.errors import UnavailableError


def test_a_one_off_connection_runs_in_utc(gearbox_database_url: str) -> None:
    # The URL asks for another time zone (and a search_path, which is kept).
    options = "options=-c%20TimeZone%3DAsia/Tokyo%20-c%20search_path%3Dpublic"
    url = f"{gearbox_database_url}{'&' if '?' in gearbox_database_url else '?'}{options}"
    with connected(url, application_name="one-off test") as connection:
        settings = connection.execute(
            text("SELECT current_setting('TimeZone'), current_setting('application_name')")
        ).one()
        path = connection.execute(text("SHOW search_path")).scalar_one()
    assert tuple(settings) == ("UTC", "one-off test")
    assert path == "public"  # the URL's own options are kept


def test_a_one_off_async_engine_runs_in_utc(gearbox_database_url: str) -> None:
    async def zone() -> str:
        engine = one_off_async_engine(gearbox_database_url)
        try:
            async with engine.connect() as connection:
                return str((await connection.execute(text("SHOW TimeZone"))).scalar_one())
        finally:
            await engine.dispose()

    assert asyncio.run(zone()) == "UTC"


def test_a_callers_engine_and_connection_are_used_as_they_are(gearbox_database_url: str) -> None:
    engine = create_engine(
        gearbox_database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    )
    try:
        with connected(engine) as connection, connected(connection) as same:
            assert same is connection
            assert not connection.closed
    finally:
        engine.dispose()


def test_no_server_is_unavailable() -> None:
    with (
        pytest.raises(UnavailableError, match="cannot connect"),
        connected("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"),
    ):
        pass
