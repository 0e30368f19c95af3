"""The recount that the maintained ``category_totals`` must equal, for the tests.

Computed in Python from the items, independently of the migration's SQL: a
weight counts as the shortest decimal that reads back as the same double
(``repr``), times its quantity, summed exactly (``Fraction``: no context
precision rounds it, unlike ``Decimal`` sums).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, select

from gearbox_db.schema import category_totals, items

__all__ = ["Figures", "maintained", "recount"]

#: (item_count, unit_count, weight_grams, cost_cents, unweighed_count) of one category.
Figures = tuple[int, int, Fraction, Fraction, int]


def recount(conn: Connection) -> dict[int, Figures]:
    """The figures of every category holding items, counted from ``items``."""
    it = items.c
    totals: dict[int, list[Any]] = {}
    rows = conn.execute(select(it.category_id, it.weight_grams, it.price_cents, it.quantity))
    for category_id, weight, price, quantity in rows:
        figures = totals.setdefault(category_id, [0, 0, Fraction(0), Fraction(0), 0])
        figures[0] += 1
        figures[1] += quantity
        figures[2] += Fraction(Decimal(repr(weight or 0.0))) * quantity
        figures[3] += Fraction(price or 0) * quantity
        figures[4] += weight is None
    return {
        category_id: (count, units, grams, cents, unweighed)
        for category_id, (count, units, grams, cents, unweighed) in totals.items()
    }


def maintained(conn: Connection) -> dict[int, Figures]:
    """The rows of ``category_totals`` but those whose figures are all nil (emptied categories)."""
    t = category_totals.c
    rows = conn.execute(select(*category_totals.c).order_by(t.category_id))
    return {
        category_id: (items_, units, Fraction(grams), Fraction(cents), unweighed)
        for category_id, items_, units, grams, cents, unweighed in rows
        if any((items_, units, grams, cents, unweighed))
    }
