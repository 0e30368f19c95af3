"""One-off connections (migrations, their env.py, the importer): one helper, UTC reads."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from gearbox_db._connections import connected, one_off_async_engine
from gearbox_db.errors import UnavailableError


def test_a_one_off_connection_reads_utc_and_sends_no_session_setting(
    gearbox_database_url: str,
) -> None:
    """The URL's session asks for Tokyo time: timestamps still read in UTC, and the
    URL's own options are kept (the library adds none: poolers refuse or drop them)."""
    options = "options=-c%20TimeZone%3DAsia/Tokyo%20-c%20search_path%3Dpublic"
    url = f"{gearbox_database_url}{'&' if '?' in gearbox_database_url else '?'}{options}"
    with connected(url, application_name="one-off test") as connection:
        zone, name, moment = connection.execute(
            text("SELECT current_setting('TimeZone'), current_setting('application_name'), now()")
        ).one()
        path = connection.execute(text("SHOW search_path")).scalar_one()
    assert (zone, name) == ("Asia/Tokyo", "one-off test")
    assert moment.utcoffset() == timedelta(0)
    assert path == "public"


def test_a_one_off_async_engine_reads_utc(gearbox_database_url: str) -> None:
    url = f"{gearbox_database_url}{'&' if '?' in gearbox_database_url else '?'}"
    url += "options=-c%20TimeZone%3DAsia/Tokyo"

    async def now() -> datetime:
        engine = one_off_async_engine(url)
        try:
            async with engine.connect() as connection:
                value = (await connection.execute(text("SELECT now()"))).scalar_one()
                assert isinstance(value, datetime)
                return value
        finally:
            await engine.dispose()

    assert asyncio.run(now()).utcoffset() == timedelta(0)


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
