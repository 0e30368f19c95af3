"""``Database.connect`` keeps the URL's session options and runs sessions in UTC."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gearbox_db import Database, UnavailableError
from gearbox_db.errors import translate


def _with_options(url: str, options: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options={options.replace(' ', '%20')}"


def test_url_options_are_kept(gearbox_database_url: str) -> None:
    url = _with_options(gearbox_database_url, "-c search_path=elsewhere,public")
    with Database.connect(url) as db:
        assert db.engine is not None
        with db.engine.connect() as connection:
            path = connection.execute(text("SHOW search_path")).scalar_one()
    assert path.replace(" ", "") == "elsewhere,public"


def test_timestamps_are_utc_whatever_the_database_timezone(gearbox_database_url: str) -> None:
    with psycopg.connect(gearbox_database_url, autocommit=True) as admin:
        name = admin.execute("SELECT current_database()").fetchone()
        assert name is not None
        admin.execute(f"ALTER DATABASE \"{name[0]}\" SET timezone = 'America/New_York'")
    with Database.connect(gearbox_database_url) as db:
        category = db.categories.create(name="Time zones")
    assert category.created_at.utcoffset() == timedelta(0)


def test_statement_timeout_cancels_long_statements(gearbox_database_url: str) -> None:
    with Database.connect(gearbox_database_url, statement_timeout=0.05) as db:
        assert db.engine is not None
        with db.engine.connect() as connection, pytest.raises(DBAPIError) as info:
            connection.execute(text("SELECT pg_sleep(5)"))
    assert isinstance(translate(info.value), UnavailableError)
    assert translate(info.value).sqlstate == "57014"  # query_canceled
