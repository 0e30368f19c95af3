"""No password, token, key or hash in logs, echo output or reprs (issue 10, point 9)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from gearbox_db import Database
from gearbox_db._url import mask, to_sqlalchemy_url
from gearbox_db.errors import ConfigurationError, UnavailableError

PASSWORD = "correct horse battery staple"


def test_debug_logging_shows_no_secret(
    gearbox_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Every logger at DEBUG (the pool's and the driver's included): no secret shows."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="psycopg")  # psycopg sets its own to WARNING
    url = gearbox_database_url.replace("postgresql://postgres@", "postgresql://postgres:Sekrit42@")
    with Database.connect(url) as db:
        user = db.users.create(username="hiker", password=PASSWORD)
        session = db.sessions.create(user.id)
        key = db.api_keys.create(user.id, name="cli")
        assert db.users.verify_password("hiker", PASSWORD) is not None
        assert db.sessions.validate(session.token) is not None
    engine = create_engine(to_sqlalchemy_url(gearbox_database_url), poolclass=NullPool)
    with engine.connect() as conn:  # not logged
        stored = conn.execute(
            text(
                "SELECT users.password_hash, sessions.token_hash, api_keys.key_hash FROM users "
                "JOIN sessions ON sessions.user_id = users.id "
                "JOIN api_keys ON api_keys.user_id = users.id"
            )
        ).one()
    engine.dispose()
    assert "connection given by 'gearbox_db'" in caplog.text  # the pool's logs were captured
    for secret in ("Sekrit42", PASSWORD, session.token, key.key, *stored):
        assert secret not in caplog.text


def test_a_password_stays_out_of_reprs_and_errors() -> None:
    with Database.connect(
        "postgresql://app@127.0.0.1:1/gearbox?password=Sekrit42", pool_timeout=1
    ) as db:
        assert db.pool is not None
        with pytest.raises(UnavailableError) as caught:
            db.settings.get("theme")
        settings = db._pool.settings if db._pool is not None else None  # the pool's own settings
        shown_all = (repr(db), repr(db.pool), repr(settings), str(caught.value), repr(caught.value))
        for shown in shown_all:
            assert "Sekrit42" not in shown


def test_an_unencoded_at_in_a_password_is_refused_with_a_hint() -> None:
    url = "postgresql://app:p@ss-tail@db.internal/gearbox"
    with pytest.raises(ConfigurationError, match="percent-encode") as caught:
        to_sqlalchemy_url(url)
    assert "ss-tail" not in str(caught.value)
    assert "%40" in str(caught.value)
    assert "ss-tail" not in mask(url)
    assert "db.internal" in mask(url)
