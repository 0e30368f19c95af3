"""Drop the listing indexes the code before 0005 read (contract step of 0005).

The eight sentinel indexes of 0003 (one per direction for weights and prices,
with and without the category: a sentinel beyond every valid value put missing
ones last) and ``ix_items_category_id`` of 0001: every ``ix_items_by_category_*``
index leads with ``category_id`` and serves its foreign key. Items then carry 8
listing indexes instead of 13 (plus the trigram one): every write of an item
maintains five fewer, and an import builds five fewer. Dropped CONCURRENTLY
outside the revision's transaction when the migration has a connection of its
own (each waits for the transactions using the index, blocking nobody). Run it
once no code from before 0005 serves listings: until then its weight and price
pages would sort the whole table (docs/maintaining.md).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from gearbox_db.migrations import ops

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: squawk rules this revision's SQL breaks on purpose, and why (see tools/squawk.py).
SQUAWK_EXCLUDES: dict[str, str] = {
    "require-statement-timeout": "the downgrade builds indexes on a big table and a statement "
    "timeout would cancel them (leaving invalid indexes, dropped and built again by the next "
    "run); lock_timeout, set for every revision, bounds the waits for locks",
}

# What 0003 (and 0001, for category_id) built: a sentinel beyond every valid value put
# missing weights and prices last, one index per direction.
_SENTINEL_KEYS = {
    "weight_asc": "coalesce(weight_grams, 'Infinity'::double precision)",
    "weight_desc": "coalesce(weight_grams, '-Infinity'::double precision)",
    "price_asc": "coalesce((price_cents)::bigint, '2147483648'::bigint)",
    "price_desc": "coalesce((price_cents)::bigint, '-1'::bigint)",
}
DROPPED: list[ops.IndexSpec] = [
    ("ix_items_category_id", "items", "category_id"),
    *((f"ix_items_by_{sort}", "items", f"{key}, id") for sort, key in _SENTINEL_KEYS.items()),
    *(
        (f"ix_items_by_category_{sort}", "items", f"category_id, {key}, id")
        for sort, key in _SENTINEL_KEYS.items()
    ),
]


def upgrade() -> None:
    ops.drop_indexes([name for name, _, _ in DROPPED])


def downgrade() -> None:
    ops.create_indexes(DROPPED)
