"""One listing index per weight and price key; no index of items.category_id alone.

A weight or price page reads two ranges of one index on (value, id): the rows
holding a value, then the missing ones (``gearbox_db._queries.item_pages``), in
either direction. The four indexes per key of 0003 (ascending and descending
sentinel keys, with and without the category) become two, and
``ix_items_category_id`` goes: every ``ix_items_by_category_*`` index leads with
``category_id`` and serves its foreign key. Items then carry 8 listing indexes
instead of 13 (plus the trigram one): every write of an item maintains five
fewer, and an import builds five fewer (about a third of its index time).

The new indexes are built CONCURRENTLY before the old ones are dropped
CONCURRENTLY (outside the revision's transaction when the migration has a
connection of its own): a listing always has its index, and writers are not
blocked while the 400,000 rows of items are read.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from gearbox_db.migrations import ops

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: squawk rules this revision's SQL breaks on purpose, and why (see tools/squawk.py).
SQUAWK_EXCLUDES: dict[str, str] = {
    "require-statement-timeout": "the index builds take seconds to minutes on a big table "
    "and a statement timeout would cancel them (leaving invalid indexes, dropped and built "
    "again by the next run); lock_timeout, set for every revision, bounds the waits for locks",
}

INDEXES: list[ops.IndexSpec] = [
    ("ix_items_by_weight", "items", "weight_grams, id"),
    ("ix_items_by_category_weight", "items", "category_id, weight_grams, id"),
    ("ix_items_by_price", "items", "price_cents, id"),
    ("ix_items_by_category_price", "items", "category_id, price_cents, id"),
]

# What 0003 (and 0001, for category_id) built instead: a sentinel beyond every valid
# value put missing weights and prices last, one index per direction.
_SENTINEL_KEYS = {
    "weight_asc": "coalesce(weight_grams, 'Infinity'::double precision)",
    "weight_desc": "coalesce(weight_grams, '-Infinity'::double precision)",
    "price_asc": "coalesce((price_cents)::bigint, '2147483648'::bigint)",
    "price_desc": "coalesce((price_cents)::bigint, '-1'::bigint)",
}
REPLACED: list[ops.IndexSpec] = [
    ("ix_items_category_id", "items", "category_id"),
    *((f"ix_items_by_{sort}", "items", f"{key}, id") for sort, key in _SENTINEL_KEYS.items()),
    *(
        (f"ix_items_by_category_{sort}", "items", f"category_id, {key}, id")
        for sort, key in _SENTINEL_KEYS.items()
    ),
]


def upgrade() -> None:
    ops.create_indexes(INDEXES)
    ops.drop_indexes([name for name, _, _ in REPLACED])


def downgrade() -> None:
    ops.create_indexes(REPLACED)
    ops.drop_indexes([name for name, _, _ in reversed(INDEXES)])
