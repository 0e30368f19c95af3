"""UNIQUE constraints, natural primary keys, and FOREIGN KEYs with their
ON DELETE rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, create_engine, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.errors import InvalidReferenceError, translate
from gearbox_db.schema import UNCATEGORIZED, metadata
from tests.schema_spec import (
    CASCADE,
    DERIVED_TABLES,
    EXPECTED_FOREIGN_KEYS,
    FOREIGN_KEY_VIOLATION,
    RESTRICT,
    UNIQUE_VIOLATION,
    ForeignKey,
    World,
    assert_violates,
    insert,
    key_of,
    restrict_sqlstate,
    valid_row,
    violation,
)

# ---------------------------------------------------------------------------
# UNIQUE constraints (and the natural primary keys)
# ---------------------------------------------------------------------------

Pair = Callable[[Connection, World], tuple[dict[str, Any], dict[str, Any]]]

UNIQUE_CASES: list[tuple[str, str, Pair]] = [
    # categories.name is case-sensitive: 'Tent' and 'tent' are two categories
    ("categories", "uq_categories_name", lambda c, w: ({"name": "Tent"}, {"name": "tent"})),
    ("users", "uq_users_username", lambda c, w: ({"username": "ana"}, {"username": "Ana"})),
    (
        "api_keys",
        "uq_api_keys_key_hash",
        lambda c, w: ({"key_hash": "a" * 64}, {"key_hash": "a" * 63 + "b"}),
    ),
    (
        "oauth_clients",
        "uq_oauth_clients_client_id",
        lambda c, w: ({"client_id": "claude"}, {"client_id": "Claude"}),
    ),
    (
        "oauth_codes",
        "uq_oauth_codes_code_hash",
        lambda c, w: ({"code_hash": "c" * 64}, {"code_hash": "c" * 63 + "d"}),
    ),
    (
        "oauth_tokens",
        "uq_oauth_tokens_access_token_hash",
        lambda c, w: ({"access_token_hash": "a" * 64}, {"access_token_hash": "a" * 63 + "b"}),
    ),
    (
        "oauth_tokens",
        "uq_oauth_tokens_refresh_token_hash",
        lambda c, w: ({"refresh_token_hash": "e" * 64}, {"refresh_token_hash": "e" * 63 + "f"}),
    ),
    (
        "setup_items",
        "uq_setup_items_setup_id_item_id",
        lambda c, w: (
            {"setup_id": w.setup_id, "item_id": w.item_id},
            {"setup_id": w.setup_id, "item_id": insert(c, w, "items")["id"]},
        ),
    ),
    (
        "sessions",
        "pk_sessions",
        lambda c, w: ({"token_hash": "1" * 64}, {"token_hash": "1" * 63 + "2"}),
    ),
    ("settings", "pk_settings", lambda c, w: ({"key": "weightUnit"}, {"key": "WeightUnit"})),
]


@pytest.mark.parametrize(
    ("table", "constraint", "pair"), UNIQUE_CASES, ids=[c for _, c, _ in UNIQUE_CASES]
)
def test_unique_constraint(
    gearbox_connection: Connection, world: World, table: str, constraint: str, pair: Pair
) -> None:
    conn = gearbox_connection
    first, neighbour = pair(conn, world)
    insert(conn, world, table, **first)
    insert(conn, world, table, **neighbour)  # the nearest different value is accepted
    t = metadata.tables[table]
    duplicate = t.insert().values(valid_row(conn, world, table) | first)
    assert_violates(conn, duplicate, constraint, UNIQUE_VIOLATION)
    # and an UPDATE onto the taken value is refused the same way
    key = key_of(table)
    statement = update(t).where(t.c[key] == insert(conn, world, table)[key]).values(first)
    assert_violates(conn, statement, constraint, UNIQUE_VIOLATION)


def test_uncategorized_name_is_taken(gearbox_connection: Connection, world: World) -> None:
    statement = metadata.tables["categories"].insert().values(name=UNCATEGORIZED)
    assert_violates(gearbox_connection, statement, "uq_categories_name", UNIQUE_VIOLATION)


def test_tokens_without_refresh_token_do_not_collide(
    gearbox_connection: Connection, world: World
) -> None:
    for _ in range(2):
        row = insert(gearbox_connection, world, "oauth_tokens", refresh_token_hash=None)
        assert row["refresh_token_hash"] is None


# ---------------------------------------------------------------------------
# FOREIGN KEYs and their ON DELETE rules
# ---------------------------------------------------------------------------

#: The keys of the tables callers write (the triggers' table is tested in test_category_totals).
WRITTEN_FOREIGN_KEYS = {
    n: fk for n, fk in EXPECTED_FOREIGN_KEYS.items() if fk.table not in DERIVED_TABLES
}
IMMEDIATE_FOREIGN_KEYS = [
    (name, fk) for name, fk in WRITTEN_FOREIGN_KEYS.items() if not fk.initially_deferred
]


@pytest.mark.parametrize(
    ("constraint", "fk"), IMMEDIATE_FOREIGN_KEYS, ids=[n for n, _ in IMMEDIATE_FOREIGN_KEYS]
)
def test_foreign_key_refuses_a_missing_parent(
    gearbox_connection: Connection, world: World, constraint: str, fk: ForeignKey
) -> None:
    conn = gearbox_connection
    t = metadata.tables[fk.table]
    missing: Any = "no-such-client" if fk.referred_column == "client_id" else 987_654_321
    row = valid_row(conn, world, fk.table) | {fk.column: missing}
    assert_violates(conn, t.insert().values(row), constraint, FOREIGN_KEY_VIOLATION)
    # UPDATE too
    key = key_of(fk.table)
    row_key = insert(conn, world, fk.table)[key]
    statement = update(t).where(t.c[key] == row_key).values({fk.column: missing})
    assert_violates(conn, statement, constraint, FOREIGN_KEY_VIOLATION)


RESTRICTING = [(n, fk) for n, fk in WRITTEN_FOREIGN_KEYS.items() if fk.on_delete == RESTRICT]
CASCADING = [(n, fk) for n, fk in WRITTEN_FOREIGN_KEYS.items() if fk.on_delete == CASCADE]


@pytest.mark.parametrize(("constraint", "fk"), RESTRICTING, ids=[n for n, _ in RESTRICTING])
def test_a_used_category_cannot_be_deleted(
    gearbox_connection: Connection, world: World, constraint: str, fk: ForeignKey
) -> None:
    conn = gearbox_connection
    categories = metadata.tables["categories"]
    child_table = metadata.tables[fk.table]
    category_id = insert(conn, world, "categories")["id"]
    child_id = insert(conn, world, fk.table, category_id=category_id)["id"]
    statement = delete(categories).where(categories.c.id == category_id)
    assert_violates(conn, statement, constraint, restrict_sqlstate(conn))
    # whichever SQLSTATE the server version gives, the library calls it the same
    assert isinstance(translate(violation(conn, statement)), InvalidReferenceError)
    # once nothing uses it, it can go
    conn.execute(delete(child_table).where(child_table.c.id == child_id))
    assert conn.execute(statement).rowcount == 1


@pytest.mark.parametrize(("constraint", "fk"), CASCADING, ids=[n for n, _ in CASCADING])
def test_deleting_a_parent_deletes_its_children(
    gearbox_connection: Connection, world: World, constraint: str, fk: ForeignKey
) -> None:
    conn = gearbox_connection
    parent_table = metadata.tables[fk.referred_table]
    child_table = metadata.tables[fk.table]
    parent = insert(conn, world, fk.referred_table)
    parent_key = parent[fk.referred_column]
    child_key = key_of(fk.table)
    doomed = [insert(conn, world, fk.table, **{fk.column: parent_key})[child_key] for _ in "ab"]
    survivor = insert(conn, world, fk.table)[child_key]  # belongs to the world's parent

    def existing() -> set[Any]:
        column = child_table.c[child_key]
        return set(conn.execute(select(column).where(column.in_([*doomed, survivor]))).scalars())

    assert existing() == {*doomed, survivor}
    statement = delete(parent_table).where(parent_table.c.id == parent["id"])
    assert conn.execute(statement).rowcount == 1
    assert existing() == {survivor}


def test_deleting_the_chosen_candidate_clears_resolved_candidate_id(
    gearbox_connection: Connection, world: World
) -> None:
    conn = gearbox_connection
    threads, candidates = metadata.tables["threads"], metadata.tables["thread_candidates"]
    other = insert(conn, world, "thread_candidates")["id"]
    conn.execute(
        update(threads)
        .where(threads.c.id == world.thread_id)
        .values(status="resolved", resolved_candidate_id=world.candidate_id)
    )
    conn.execute(delete(candidates).where(candidates.c.id == world.candidate_id))
    thread = conn.execute(select(threads).where(threads.c.id == world.thread_id)).one()
    assert thread.resolved_candidate_id is None
    assert thread.status == "resolved"  # the thread itself stays
    remaining = conn.execute(select(candidates.c.id).where(candidates.c.id == other))
    assert remaining.scalar_one() == other


def test_deleting_a_resolved_thread_deletes_its_candidates(
    gearbox_connection: Connection, world: World
) -> None:
    conn = gearbox_connection
    threads, candidates = metadata.tables["threads"], metadata.tables["thread_candidates"]
    conn.execute(
        update(threads)
        .where(threads.c.id == world.thread_id)
        .values(status="resolved", resolved_candidate_id=world.candidate_id)
    )
    assert conn.execute(delete(threads).where(threads.c.id == world.thread_id)).rowcount == 1
    left = conn.execute(select(func.count()).where(candidates.c.thread_id == world.thread_id))
    assert left.scalar_one() == 0
    conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # the deferred key is satisfied


def test_resolved_candidate_key_is_checked_at_commit(gearbox_database_url: str) -> None:
    """The key is DEFERRABLE INITIALLY DEFERRED: a thread can be written before its candidate."""
    threads, candidates = metadata.tables["threads"], metadata.tables["thread_candidates"]
    engine = create_engine(to_sqlalchemy_url(gearbox_database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            category_id = conn.execute(
                select(metadata.tables["categories"].c.id).where(
                    metadata.tables["categories"].c.name == UNCATEGORIZED
                )
            ).scalar_one()
            # one transaction: the thread names candidate 500 before candidate 500 exists
            conn.execute(
                threads.insert().values(
                    id=100,
                    name="Which stove?",
                    status="resolved",
                    category_id=category_id,
                    resolved_candidate_id=500,
                )
            )
            conn.execute(
                candidates.insert().values(
                    id=500, thread_id=100, name="Pocket Rocket", category_id=category_id
                )
            )
            conn.commit()
            resolved = select(threads.c.resolved_candidate_id).where(threads.c.id == 100)
            assert conn.execute(resolved).scalar_one() == 500
            conn.rollback()

            # a candidate that never comes: refused when the transaction commits
            conn.execute(
                threads.insert().values(
                    id=101, name="Which pot?", category_id=category_id, resolved_candidate_id=501
                )
            )
            with pytest.raises(IntegrityError) as info:
                conn.commit()
            orig = info.value.orig
            assert isinstance(orig, psycopg.Error)
            assert orig.diag.constraint_name == "fk_threads_resolved_candidate_id_thread_candidates"
            assert orig.sqlstate == FOREIGN_KEY_VIOLATION
            conn.rollback()
            assert conn.execute(select(func.count()).where(threads.c.id == 101)).scalar_one() == 0
    finally:
        engine.dispose()
