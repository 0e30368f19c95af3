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

No value the library accepts can make these reads fail (PostgreSQL raises on
a double's overflow and underflow). Weights of at least a gram are summed as
doubles scaled down by 2^512 (exact: a power of two), where no sum of finite
weights times quantities can overflow, the smaller ones as they are, and the
two parts are combined at the end (``inf`` beyond the largest double, never
an error): double arithmetic at double speed (``numeric`` sums were 8x
slower). Costs are sums of bigints, which PostgreSQL accumulates as
``numeric``: exact integers, beyond 64 bits too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

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
    literal_column,
    or_,
    select,
    tuple_,
)

from gearbox_db._queries import _validate as v
from gearbox_db._queries._common import AnyRow, found
from gearbox_db._queries._compiled import Bound, Template
from gearbox_db._queries._projection import Projection
from gearbox_db.records import CategoryTotals, SetupTotals
from gearbox_db.schema import CLASSIFICATIONS, categories, items, setup_items, setups

__all__ = [
    "SETUP_ID",
    "Grams",
    "Window",
    "as_double",
    "cents",
    "entries_join",
    "figures",
    "grams",
    "grams_of_numeric",
    "setup_totals",
    "to_totals",
]

#: Wraps an aggregate: the identity for ``GROUP BY`` queries, ``.over(...)`` for windows.
Window = Callable[[ColumnElement[Any]], ColumnElement[Any]]

#: The bound parameter of the statements about one setup (built once, bound per call).
SETUP_ID: Final = bindparam("setup_id", type_=BigInteger)

setup_items_c = setup_items.c
items_c = items.c


#: Weights of at least a gram are summed scaled down by this (and multiplied back up
#: by its inverse); smaller ones as they are (scaled, they could underflow).
_DOWN: Final = literal(2.0**-512, Double)
_UP: Final = literal(2.0**512, Double)


class Grams(NamedTuple):
    """A sum of weights x quantities in two parts that can neither overflow nor
    underflow: ``large`` (weights >= 1 g, scaled down by 2^512), ``small`` (the rest)."""

    large: ColumnElement[Any]
    small: ColumnElement[Any]

    def __add__(self, other: object) -> Grams:
        assert isinstance(other, Grams)
        return Grams(self.large + other.large, self.small + other.small)

    def __sub__(self, other: Grams) -> Grams:
        return Grams(self.large - other.large, self.small - other.small)


def grams(weight: Any, quantity: Any, wrap: Window | None = None) -> Grams:
    """The sum of ``weight x quantity`` (each aggregate wrapped by ``wrap``), as :class:`Grams`."""
    parts = (
        case((weight >= 1, weight * _DOWN * quantity)),
        case((weight < 1, weight * quantity)),
    )
    wrapped = [(wrap or _plain)(func.sum(part)) for part in parts]
    return Grams(*(func.coalesce(part, 0.0) for part in wrapped))


def cents(price: ColumnElement[Any], quantity: ColumnElement[Any]) -> ColumnElement[Any]:
    """``price x quantity`` as a bigint (at most 2^62: no overflow); its sum is numeric."""
    return cast(price, BigInteger) * quantity


def as_double(total: Grams) -> ColumnElement[float]:
    """``total`` in grams: ``inf`` where too large for a double (never an error)."""
    exact = total.large * _UP + total.small
    return case((total.large < _UP, exact), else_=literal(math.inf, Double))


#: Grams at or beyond this round to infinity as a double: half a unit in the last place
#: above the largest double (2^1024 - 2^970, a tie that rounds to even: to 2^1024).
_INFINITE_GRAMS: Final = literal_column(f"{2**1024 - 2**970}::numeric", Numeric)


def grams_of_numeric(total: ColumnElement[Any]) -> ColumnElement[float]:
    """An exact ``numeric`` sum of grams (``category_totals``) as a double, correctly
    rounded: ``inf`` where too large for a double (never an error)."""
    return case((total >= _INFINITE_GRAMS, literal(math.inf, Double)), else_=cast(total, Double))


def _plain(aggregate: ColumnElement[Any]) -> ColumnElement[Any]:
    return aggregate


def entries_join(*, with_categories: bool = True) -> Join:
    """``setups`` left-joined to their entries and items (and the items'
    categories); a setup without entries gives one row of NULL entry columns."""
    entries = setup_items.join(items, items_c.id == setup_items_c.item_id)
    if with_categories:
        entries = entries.join(categories, categories.c.id == items_c.category_id)
    return setups.outerjoin(entries, setup_items_c.setup_id == setups.c.id)


def figures(window: Window = _plain) -> list[ColumnElement[Any]]:
    """The figures in SetupTotals field order: base, worn, consumable, total,
    pack (grams), cost (cents), unit_count (units), unweighed_count (entries)."""

    def classified(classification: str) -> Grams:
        def wrap(aggregate: ColumnElement[Any]) -> ColumnElement[Any]:
            return window(aggregate.filter(setup_items_c.classification == classification))

        return grams(items_c.weight_grams, items_c.quantity, wrap)

    base, worn, consumable = (classified(c) for c in CLASSIFICATIONS)
    total = base + worn + consumable
    cost = func.sum(cents(items_c.price_cents, items_c.quantity))
    units = func.sum(items_c.quantity)
    unweighed = func.count(items_c.id).filter(items_c.weight_grams.is_(None))
    return [
        *(as_double(x) for x in (base, worn, consumable, total, total - worn)),
        func.coalesce(window(cost), 0),  # numeric, made an int by the record
        cast(func.coalesce(window(units), 0), BigInteger),
        cast(window(unweighed), BigInteger),
    ]


#: Rows of :func:`setup_totals`: a category (NULLs in the setup's row), its figures.
_SETUP_TOTALS_ROW: Final = Projection(
    category=[categories.c.id, categories.c.name], figures=figures()
)


def _setup_totals() -> Select[Any]:
    categories_c = categories.c
    setup_key = tuple_(setups.c.id)
    return (
        select(*_SETUP_TOTALS_ROW.columns)
        .select_from(entries_join())
        .where(setups.c.id == SETUP_ID)
        .group_by(
            func.grouping_sets(setup_key, tuple_(setups.c.id, categories_c.id, categories_c.name))
        )
        # An empty setup still yields its (NULL) category group: drop it.
        .having(or_(func.grouping(categories_c.id) == literal(1), categories_c.id.is_not(None)))
        .order_by(func.grouping(categories_c.id).desc(), categories_c.name)
    )


_SETUP_TOTALS: Final = Template(_setup_totals)


def setup_totals(setup_id: int) -> Bound:
    """The totals of one setup (first row) and of each category of its entries
    (following rows, by category name), in one query; no row if the setup
    does not exist."""
    return _SETUP_TOTALS(setup_id=v.identifier(setup_id, "setup_id"))


def to_totals(rows: Sequence[AnyRow], setup_id: int) -> SetupTotals:
    """Map the rows of :func:`setup_totals` (NotFoundError if there are none)."""
    overall = found(rows[0] if rows else None, "setup", setup_id)
    by_category = tuple(CategoryTotals(*row) for row in rows[1:])
    figures_of = _SETUP_TOTALS_ROW["figures"]
    return attrs.evolve(SetupTotals(*overall[figures_of]), by_category=by_category)
