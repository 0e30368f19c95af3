"""One listing index per weight and price key (expand; revision 0006 contracts).

A weight or price page reads two ranges of one index on (value, id): the rows
holding a value, then the missing ones (``gearbox_db._queries.item_pages``), in
either direction. This revision builds those four indexes (with and without the
category), CONCURRENTLY outside the revision's transaction when the migration
has a connection of its own: writers are not blocked while the 400,000 rows of
items are read. The indexes of the code before (0003's sentinel keys, one per
direction) stay until revision 0006, so that code and the new one both have
their indexes while a fleet rolls over: upgrade to 0005, deploy, then upgrade
to head (docs/maintaining.md).

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


def upgrade() -> None:
    ops.create_indexes(INDEXES)


def downgrade() -> None:
    ops.drop_indexes([name for name, _, _ in reversed(INDEXES)])
