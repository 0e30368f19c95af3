"""The weight and cost figures of setups, as SQL aggregates (no I/O).

One definition of the figures (:func:`figures`) serves three queries: the
totals of one setup with its per-category breakdown (``GROUPING SETS``), the
listing of every setup with its totals (``GROUP BY`` setup) and the detail of
one setup (window aggregates beside each entry). PostgreSQL computes them;
Python only maps the rows. These statements are large: they are built once,
with bound parameters (:data:`SETUP_ID`), and each call only binds values
(building them anew would cost milliseconds of Python per call).

Rules (the data model's "Totals" section): an entry contributes
``weight_grams x quantity`` grams and ``price_cents x quantity`` cents; an
item without weight counts 0 and is counted in ``unweighed_count``; every
unit of a worn entry is worn; ``total = base + worn + consumable``;
``pack = total - worn``; ``unit_count`` is the number of units.

No value the library accepts can make these reads fail: the sums are
computed in ``numeric`` (exact, unbounded), weights handed back as doubles
(``inf`` beyond the largest double, never an overflow error) and costs as
exact integers (a ``numeric`` sum: beyond 64 bits too).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Final

import attrs
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Double,
    Join,
    Numeric,
    Select,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    tuple_,
)

from gearbox_db._queries import _validate as v
from gearbox_db._queries._common import AnyRow, found
from gearbox_db.records import CategoryTotals, SetupTotals
from gearbox_db.schema import CLASSIFICATIONS, categories, items, setup_items, setups

__all__ = [
    "FIGURE_COUNT",
    "SETUP_ID",
    "Window",
    "as_double",
    "cents",
    "entries_join",
    "figures",
    "grams",
    "setup_totals",
    "to_totals",
]

#: Wraps an aggregate: the identity for ``GROUP BY`` queries, ``.over(...)`` for windows.
Window = Callable[[ColumnElement[Any]], ColumnElement[Any]]

#: The bound parameter of the statements about one setup (built once, bound per call).
SETUP_ID: Final = bindparam("setup_id", type_=BigInteger)

#: Number of columns :func:`figures` returns (the fields of SetupTotals but ``by_category``).
FIGURE_COUNT: Final = 8

si = setup_items.c
it = items.c


_LARGEST: Final = literal(Decimal("1e308"), Numeric)  # compared as numeric: no overflow


def grams(weight: ColumnElement[Any], quantity: ColumnElement[Any]) -> ColumnElement[Any]:
    """``weight x quantity`` in ``numeric`` (sums of it never overflow)."""
    return cast(weight, Numeric) * quantity


def cents(price: ColumnElement[Any], quantity: ColumnElement[Any]) -> ColumnElement[Any]:
    """``price x quantity`` as a bigint (at most 2^62: no overflow); its sum is numeric."""
    return cast(price, BigInteger) * quantity


def as_double(number: ColumnElement[Any]) -> ColumnElement[float]:
    """A ``numeric`` as a double: ``inf`` where it is too large for one (never an error)."""
    return case((number < _LARGEST, cast(number, Double)), else_=literal(math.inf, Double))


def _plain(aggregate: ColumnElement[Any]) -> ColumnElement[Any]:
    return aggregate


def entries_join(*, with_categories: bool = True) -> Join:
    """``setups`` left-joined to their entries and items (and the items'
    categories); a setup without entries gives one row of NULL entry columns."""
    entries = setup_items.join(items, it.id == si.item_id)
    if with_categories:
        entries = entries.join(categories, categories.c.id == it.category_id)
    return setups.outerjoin(entries, si.setup_id == setups.c.id)


def figures(window: Window = _plain) -> list[ColumnElement[Any]]:
    """The figures in SetupTotals field order: base, worn, consumable, total,
    pack (grams), cost (cents), unit_count (units), unweighed_count (entries)."""

    def classified(classification: str) -> ColumnElement[Any]:
        weighed = func.sum(grams(it.weight_grams, it.quantity))
        return func.coalesce(window(weighed.filter(si.classification == classification)), 0)

    base, worn, consumable = (classified(c) for c in CLASSIFICATIONS)
    total = base + worn + consumable
    cost = func.sum(cents(it.price_cents, it.quantity))
    units = func.sum(it.quantity)
    unweighed = func.count(it.id).filter(it.weight_grams.is_(None))
    return [
        *(as_double(x) for x in (base, worn, consumable, total, total - worn)),
        func.coalesce(window(cost), 0),  # numeric, made an int by the record
        cast(func.coalesce(window(units), 0), BigInteger),
        cast(window(unweighed), BigInteger),
    ]


def _setup_totals() -> Select[Any]:
    category = categories.c
    setup_key = tuple_(setups.c.id)
    return (
        select(category.id, category.name, *figures())
        .select_from(entries_join())
        .where(setups.c.id == SETUP_ID)
        .group_by(func.grouping_sets(setup_key, tuple_(setups.c.id, category.id, category.name)))
        # An empty setup still yields its (NULL) category group: drop it.
        .having(or_(func.grouping(category.id) == literal(1), category.id.is_not(None)))
        .order_by(func.grouping(category.id).desc(), category.name)
    )


_SETUP_TOTALS: Final = _setup_totals()


def setup_totals(setup_id: int) -> Select[Any]:
    """The totals of one setup (first row) and of each category of its entries
    (following rows, by category name), in one query; no row if the setup
    does not exist."""
    return _SETUP_TOTALS.params(setup_id=v.identifier(setup_id, "setup_id"))


def to_totals(rows: Sequence[AnyRow], setup_id: int) -> SetupTotals:
    """Map the rows of :func:`setup_totals` (NotFoundError if there are none)."""
    overall = found(rows[0] if rows else None, "setup", setup_id)
    by_category = tuple(CategoryTotals(*row) for row in rows[1:])
    return attrs.evolve(SetupTotals(*overall[2:]), by_category=by_category)
