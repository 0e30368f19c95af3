"""Records carry UTC timestamps whatever the session's time zone (see also test_pool.py)."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from gearbox_db import Database


def test_timestamps_are_utc_whatever_the_database_timezone(gearbox_database_url: str) -> None:
    with psycopg.connect(gearbox_database_url, autocommit=True) as admin:
        name = admin.execute("SELECT current_database()").fetchone()
        assert name is not None
        admin.execute(f"ALTER DATABASE \"{name[0]}\" SET timezone = 'America/New_York'")
    with Database.connect(gearbox_database_url) as db:
        category = db.categories.create(name="Time zones")
    assert category.created_at.utcoffset() == timedelta(0)
