"""Hostile text through the account repositories (sync API; hypothesis cannot drive
async tests): any Unicode text without NUL round-trips exactly through usernames,
API key names, OAuth client ids and client names; a NUL is a ValidationError."""

from __future__ import annotations

import pytest
from hypothesis import given
from sqlalchemy import Connection

from gearbox_db import Database, ValidationError
from gearbox_db.testing import isolated
from tests._sync._accounts import LEGACY_HASH, REDIRECT
from tests.strategies import hostile, hostile_name, per_example, with_nul


@per_example
@given(username=hostile_name, key_name=hostile_name, client_name=hostile)
def test_hostile_text_round_trips(
    gearbox_connection: Connection, username: str, key_name: str, client_name: str
) -> None:
    with isolated(gearbox_connection) as connection:
        db = Database.from_connection(connection)
        user = db.users.create(username=username, password_hash=LEGACY_HASH)
        assert user.username == username
        assert db.users.get(user.id) == user == db.users.get_by_username(username)
        key = db.api_keys.create(user.id, name=key_name)
        assert key.api_key.name == key_name
        assert db.api_keys.list_for_user(user.id) == (key.api_key,)
        client = db.oauth.register_client(
            username, client_name=client_name, redirect_uris=[REDIRECT]
        )
        assert (client.client_id, client.client_name) == (username, client_name)
        assert db.oauth.get_client(username) == client


@per_example
@given(bad=with_nul)
def test_nul_is_a_validation_error(gearbox_connection: Connection, bad: str) -> None:
    with isolated(gearbox_connection) as connection:
        db = Database.from_connection(connection)
        with pytest.raises(ValidationError):
            db.users.create(username=bad, password_hash=LEGACY_HASH)
        user = db.users.create(username="fine", password_hash=LEGACY_HASH)
        with pytest.raises(ValidationError):
            db.api_keys.create(user.id, name=bad)
        with pytest.raises(ValidationError):
            db.oauth.register_client(bad, redirect_uris=[REDIRECT])
