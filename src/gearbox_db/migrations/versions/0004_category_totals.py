# ruff: noqa: S608 - every piece of SQL here is a constant of this module, never input
"""Category totals: per-category figures of the items, kept by triggers, backfilled.

``category_totals`` holds, per category, the figures ``categories.list()`` and
``items.totals()`` return: item rows, units, grams, cents and items without a
weight. Statement triggers on ``items`` (INSERT, UPDATE, DELETE, with transition
tables; TRUNCATE) add each statement's changes in the writing transaction, so
the reads cost as much at 400,000 items as at 4,000 (one row per category).

Exactness: grams and cents are ``numeric`` sums (no overflow, no rounding, and a
change undone gives back exactly the sum before it). A weight enters the sum as
the shortest decimal that reads back as the same double (its text with
``extra_float_digits`` > 0, pinned by the functions), so the sums of the
decimals users type stay exact; the read converts the sum to a double once
(``inf`` beyond the largest double).

Concurrency: a statement updates the totals rows of the categories it touched
in ``category_id`` order (a row lock each until its transaction ends), so two
statements touching the same categories wait for each other instead of
deadlocking; a statement whose net change of a category is nil (a rename)
does not touch its row.

The backfill runs after the triggers exist, in the same transaction: creating
a trigger takes a SHARE ROW EXCLUSIVE lock on ``items``, so no write is in
flight and every later one goes through the triggers. Writers of items wait
for the backfill (an aggregate over items: 0.8 s for the whole upgrade at
400,000 items on 2 busy cores).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: squawk rules this revision's SQL breaks on purpose, and why (see tools/squawk.py).
SQUAWK_EXCLUDES: dict[str, str] = {
    "require-statement-timeout": "the backfill aggregates every item once (about a second "
    "at 400,000 items) and a statement timeout would abort the revision on a slow server; "
    "lock_timeout, set for every revision, bounds the waits for locks",
}

#: The figures of the rows of ``{rows}`` (columns sign, category_id, weight_grams,
#: price_cents, quantity), summed per category (sign -1: the row leaves its category).
#: Costs: bigint products (at most 2^62), summed as numeric; grams: numeric, multiplied
#: only when there is more than one unit (a numeric product costs as much as the text).
_FIGURES = """
SELECT category_id, sum(sign) AS item_count, sum(sign * quantity) AS unit_count,
       coalesce(sum(CASE sign * quantity WHEN 1 THEN weight_grams::text::numeric
                    WHEN -1 THEN -(weight_grams::text::numeric)
                    ELSE weight_grams::text::numeric * (sign * quantity) END), 0) AS weight_grams,
       coalesce(sum(sign * (price_cents::bigint * quantity)), 0) AS cost_cents,
       coalesce(sum(sign) FILTER (WHERE weight_grams IS NULL), 0) AS unweighed_count
FROM ({rows}) AS r (sign, category_id, weight_grams, price_cents, quantity)
GROUP BY category_id
"""

_COLUMNS = "category_id, weight_grams, price_cents, quantity"
_NEW = f"SELECT 1, {_COLUMNS} FROM new_items"
_OLD = f"SELECT -1, {_COLUMNS} FROM old_items"

#: Add the figures of the statement's rows to the totals, category by category in id order.
_APPLY = f"""
INSERT INTO category_totals AS t
SELECT * FROM ({_FIGURES}) AS f
WHERE (item_count, unit_count, weight_grams, cost_cents, unweighed_count) <> (0, 0, 0, 0, 0)
ORDER BY category_id
ON CONFLICT (category_id) DO UPDATE SET
    item_count = t.item_count + excluded.item_count,
    unit_count = t.unit_count + excluded.unit_count,
    weight_grams = t.weight_grams + excluded.weight_grams,
    cost_cents = t.cost_cents + excluded.cost_cents,
    unweighed_count = t.unweighed_count + excluded.unweighed_count
"""

_ROWS = {"insert": _NEW, "update": f"{_NEW} UNION ALL {_OLD}", "delete": _OLD}

#: Pinned so that a weight's text is its shortest exact decimal whatever the session says.
_PINNED = "SET extra_float_digits = 1 SET search_path FROM CURRENT"


def _function(operation: str) -> str:
    body = _APPLY.format(rows=_ROWS[operation])
    return (
        f"CREATE FUNCTION gearbox_category_totals_{operation}() RETURNS trigger "
        f"LANGUAGE plpgsql {_PINNED} AS $$\nBEGIN\n{body};\nRETURN NULL;\nEND\n$$"
    )


_TRANSITIONS = {
    "insert": "NEW TABLE AS new_items",
    "update": "NEW TABLE AS new_items OLD TABLE AS old_items",
    "delete": "OLD TABLE AS old_items",
}

RECOUNT_FUNCTION = f"""
CREATE FUNCTION gearbox_recount_category_totals() RETURNS void
LANGUAGE sql {_PINNED} AS $$
DELETE FROM category_totals;
INSERT INTO category_totals
SELECT * FROM ({_FIGURES.format(rows=_NEW.replace("new_items", "items"))}) AS f
ORDER BY category_id;
$$
"""

TRUNCATE_FUNCTION = """
CREATE FUNCTION gearbox_category_totals_truncate() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
DELETE FROM category_totals;
RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "category_totals",
        sa.Column("category_id", sa.BigInteger(), nullable=False),
        sa.Column("item_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("unit_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("weight_grams", sa.Numeric(), server_default=sa.text("0"), nullable=False),
        sa.Column("cost_cents", sa.Numeric(), server_default=sa.text("0"), nullable=False),
        sa.Column("unweighed_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_category_totals_category_id_categories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("category_id", name=op.f("pk_category_totals")),
    )
    for operation, transition in _TRANSITIONS.items():
        op.execute(_function(operation))
        op.execute(
            f"CREATE TRIGGER items_category_totals_{operation} AFTER {operation.upper()} "
            f"ON items REFERENCING {transition} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION gearbox_category_totals_{operation}()"
        )
    op.execute(TRUNCATE_FUNCTION)
    op.execute(
        "CREATE TRIGGER items_category_totals_truncate AFTER TRUNCATE ON items "
        "FOR EACH STATEMENT EXECUTE FUNCTION gearbox_category_totals_truncate()"
    )
    op.execute(RECOUNT_FUNCTION)
    op.execute("SELECT gearbox_recount_category_totals()")


def downgrade() -> None:
    for operation in (*_TRANSITIONS, "truncate"):
        op.execute(f"DROP TRIGGER items_category_totals_{operation} ON items")
        op.execute(f"DROP FUNCTION gearbox_category_totals_{operation}()")
    op.execute("DROP FUNCTION gearbox_recount_category_totals()")
    op.drop_table("category_totals")
