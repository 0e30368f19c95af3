"""Fixtures shared by the schema tests."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection

from gearbox_db.schema import metadata
from tests.schema_spec import World

#: The streaming-standby fixtures (``gearbox_standby``), for the replica tests.
pytest_plugins = ("tests.replica",)


@pytest.fixture
def world(gearbox_connection: Connection) -> World:
    conn = gearbox_connection
    tables = metadata.tables

    def add(table: str, **values: Any) -> Any:
        t = tables[table]
        return conn.execute(t.insert().values(values).returning(t.c.id)).scalar_one()

    category_id = add("categories", name="Tents")
    thread_id = add("threads", name="Which tent?", category_id=category_id)
    candidate_id = add(
        "thread_candidates", name="Duplex", thread_id=thread_id, category_id=category_id
    )
    item_id = add("items", name="Quilt", category_id=category_id)
    setup_id = add("setups", name="PCT")
    user_id = add("users", username="hiker", password_hash="$argon2id$v=19$m=65536$x$y")
    add("oauth_clients", client_id="mcp-client", redirect_uris=["https://client.example/cb"])
    return World(category_id, thread_id, candidate_id, item_id, setup_id, user_id, "mcp-client")
