"""Listing indexes: keyset pages of items, setups, threads and candidates; trigram name search.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Every index is built CONCURRENTLY, outside the revision's transaction, when the
migration has a connection of its own (writers are not blocked while the 400,000
rows of items are read); inside a caller's transaction they are built plainly.
The trigram index needs pg_trgm: where it is unavailable (not installed on the
server, or the user may not create it) the index is skipped with a warning and
name search scans the table (see docs/maintaining.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from gearbox_db.migrations import ops

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: squawk rules this revision's SQL breaks on purpose, and why (see tools/squawk.py).
SQUAWK_EXCLUDES: dict[str, str] = {
    "require-statement-timeout": "the index builds take minutes on a big table and a "
    "statement timeout would cancel them (leaving invalid indexes); lock_timeout, set "
    "for every revision, bounds what blocks the application: waiting for locks",
}

# Sort keys where weights and prices may be missing: a sentinel beyond every valid value
# puts the missing ones last (weights are finite, prices non-negative int4).
_WEIGHT_ASC = "coalesce(weight_grams, 'Infinity'::double precision)"
_WEIGHT_DESC = "coalesce(weight_grams, '-Infinity'::double precision)"
_PRICE_ASC = "coalesce((price_cents)::bigint, '2147483648'::bigint)"
_PRICE_DESC = "coalesce((price_cents)::bigint, '-1'::bigint)"

_ITEM_KEYS = {
    "name": "lower(name), name",
    "created": "created_at",
    "weight_asc": _WEIGHT_ASC,
    "weight_desc": _WEIGHT_DESC,
    "price_asc": _PRICE_ASC,
    "price_desc": _PRICE_DESC,
}

INDEXES: list[ops.IndexSpec] = [
    *((f"ix_items_by_{sort}", "items", f"{keys}, id") for sort, keys in _ITEM_KEYS.items()),
    *(
        (f"ix_items_by_category_{sort}", "items", f"category_id, {keys}, id")
        for sort, keys in _ITEM_KEYS.items()
    ),
    ("ix_setups_by_name", "setups", "name, id"),
    ("ix_threads_by_created", "threads", "created_at, id"),
    ("ix_threads_by_status_created", "threads", "status, created_at, id"),
    ("ix_thread_candidates_by_thread_order", "thread_candidates", "thread_id, sort_order, id"),
]
TRIGRAM_INDEX = "ix_items_name_trgm"

# Finer statistics of lower(name) (kept with each index on it): the planner then sees how
# many names a search term matches, and picks between walking the name index until a
# page is full (a frequent term) and the trigram index's matches (a rare one).
NAME_STATISTICS = {
    "ix_items_by_name": 1,
    "ix_items_by_category_name": 2,
    TRIGRAM_INDEX: 1,
}


def upgrade() -> None:
    ops.create_trigram_index(TRIGRAM_INDEX, "items", "lower(name)")
    ops.create_indexes(INDEXES)
    for index, column in NAME_STATISTICS.items():
        op.execute(f"ALTER INDEX IF EXISTS {index} ALTER COLUMN {column} SET STATISTICS 1000")


def downgrade() -> None:
    ops.drop_indexes([name for name, _, _ in reversed(INDEXES)])
    ops.drop_trigram_index(TRIGRAM_INDEX)
