"""The updated_at trigger, identities accepting explicit ids, created_at."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, func, select, text, update

from gearbox_db.schema import UNCATEGORIZED, metadata
from tests.category_totals import maintained, recount
from tests.schema_spec import (
    EXPECTED_COLUMNS,
    UNIQUE_VIOLATION,
    World,
    assert_violates,
    insert,
    valid_row,
)

# ---------------------------------------------------------------------------
# updated_at trigger, identities, created_at
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["items", "threads", "thread_candidates", "setups"])
def test_updated_at_moves_strictly_forward(
    gearbox_connection: Connection, world: World, table: str
) -> None:
    conn = gearbox_connection
    t = metadata.tables[table]
    row = insert(conn, world, table)
    created_at = row["created_at"]

    def touch(**values: Any) -> datetime:
        statement = update(t).where(t.c.id == row["id"]).values(values).returning(t.c.updated_at)
        stamp: datetime = conn.execute(statement).scalar_one()
        # RETURNING and a new read agree: the trigger's value is what is stored
        assert conn.execute(select(t.c.updated_at).where(t.c.id == row["id"])).scalar_one() == stamp
        return stamp

    stamps = [row["updated_at"]]
    # twice in one transaction, where now() stands still
    stamps.append(touch(name="renamed once"))
    stamps.append(touch(name="renamed twice"))
    # a no-op update is still an update of the row
    stamps.append(touch(name=t.c.name))
    # the statement tries to set it back: to the past, then to its own first value
    stamps.append(touch(name="backdated", updated_at=datetime(2000, 1, 1, tzinfo=UTC)))
    stamps.append(touch(updated_at=stamps[0]))
    assert all(earlier < later for earlier, later in itertools.pairwise(stamps)), stamps
    now = conn.execute(select(func.now())).scalar_one()
    assert stamps[1] >= now
    assert conn.execute(select(t.c.created_at).where(t.c.id == row["id"])).scalar_one() == (
        created_at
    )


@pytest.mark.parametrize("table", ["items", "threads", "thread_candidates", "setups"])
def test_updated_at_in_the_future_still_moves_forward(
    gearbox_connection: Connection, world: World, table: str
) -> None:
    """An imported row stamped ahead of this server's clock still moves forward."""
    conn = gearbox_connection
    t = metadata.tables[table]
    future = datetime.now(UTC) + timedelta(days=3650)
    row = insert(conn, world, table, updated_at=future)
    assert row["updated_at"] == future
    statement = update(t).where(t.c.id == row["id"]).values(name="moved").returning(t.c.updated_at)
    assert conn.execute(statement).scalar_one() > future


TABLES_WITH_ID = [table for table, columns in EXPECTED_COLUMNS.items() if "id" in columns]
TABLES_WITH_CREATED_AT = [t for t, columns in EXPECTED_COLUMNS.items() if "created_at" in columns]


@pytest.mark.parametrize("table", TABLES_WITH_ID)
def test_explicit_ids_are_accepted(
    gearbox_connection: Connection, world: World, table: str
) -> None:
    conn = gearbox_connection
    big = 2**62 + 1  # beyond 32 bits and beyond a double's exact integers
    assert insert(conn, world, table, id=big)["id"] == big
    assert insert(conn, world, table, id=7_000_001)["id"] == 7_000_001
    generated = insert(conn, world, table)["id"]
    assert isinstance(generated, int)
    assert generated not in (big, 7_000_001)
    t = metadata.tables[table]
    duplicate = t.insert().values(valid_row(conn, world, table) | {"id": big})
    assert_violates(conn, duplicate, f"pk_{table}", UNIQUE_VIOLATION)


@pytest.mark.parametrize("table", TABLES_WITH_CREATED_AT)
def test_created_at_defaults_to_now(
    gearbox_connection: Connection, world: World, table: str
) -> None:
    conn = gearbox_connection
    row = insert(conn, world, table)
    now = conn.execute(select(func.now())).scalar_one()
    assert row["created_at"] == now
    assert row["created_at"].utcoffset() is not None  # timestamptz comes back aware
    if "updated_at" in row:
        assert row["updated_at"] == now


def test_uncategorized_exists_once(gearbox_connection: Connection) -> None:
    categories = metadata.tables["categories"]
    rows = gearbox_connection.execute(
        select(categories.c.name, categories.c.icon).where(categories.c.name == UNCATEGORIZED)
    ).all()
    assert [tuple(r) for r in rows] == [(UNCATEGORIZED, "package")]


# ---------------------------------------------------------------------------
# category_totals triggers (the property and concurrency tests: test_category_totals_*)
# ---------------------------------------------------------------------------


def test_truncating_items_empties_category_totals(
    gearbox_connection: Connection, world: World
) -> None:
    conn = gearbox_connection
    insert(conn, world, "items", weight_grams=0.5, quantity=3)
    assert maintained(conn) == recount(conn) != {}
    conn.execute(text("TRUNCATE items CASCADE"))
    assert maintained(conn) == recount(conn) == {}
    assert conn.execute(text("SELECT count(*) FROM category_totals")).scalar_one() == 0


def test_only_a_change_of_figures_locks_the_totals_row(gearbox_database_url: str) -> None:
    """A statement that changes no figure (a rename) leaves the totals row alone:
    another transaction may still lock it; a change of weight locks it."""
    url = gearbox_database_url
    with psycopg.connect(url, autocommit=True) as setup:
        category_id = setup.execute(
            "INSERT INTO categories (name) VALUES ('Locks') RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        setup.execute(
            "INSERT INTO items (name, category_id, weight_grams) VALUES ('a', %s, 1)",
            (category_id,),
        )
    lock = "SELECT 1 FROM category_totals WHERE category_id = %s FOR UPDATE NOWAIT"
    with psycopg.connect(url) as writer, psycopg.connect(url) as other:
        writer.execute("UPDATE items SET name = 'b' WHERE category_id = %s", (category_id,))
        assert other.execute(lock, (category_id,)).fetchall() == [(1,)]
        other.rollback()
        writer.execute("UPDATE items SET weight_grams = 2 WHERE category_id = %s", (category_id,))
        with pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute(lock, (category_id,))
