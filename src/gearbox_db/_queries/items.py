"""Statements and mappers of the items repository.

Every statement that returns items returns the columns of :class:`Item` in
its field order (the item's columns, then its category's name and icon), so
``Item(*row)`` maps a row. Writes that return an item are one statement: a
data-modifying CTE (``WITH w AS (INSERT ... RETURNING ...) SELECT ... FROM w
JOIN categories``). Listings are built in :mod:`.item_pages`.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final, Unpack

from sqlalchemy import (
    Delete,
    FromClause,
    Select,
    bindparam,
    func,
    select,
)
from sqlalchemy import delete as delete_
from sqlalchemy import insert as insert_
from sqlalchemy import update as update_

from gearbox_db._queries import _validate as v
from gearbox_db._queries._common import AnyRow, checked, columns_for, found, patch, row_to
from gearbox_db._queries._compiled import Bound, Template
from gearbox_db._queries.totals import grams_of_numeric
from gearbox_db.records import CollectionTotals, Item
from gearbox_db.schema import categories, category_totals, items
from gearbox_db.shapes import ItemChanges, NewItem, checks_of

__all__ = [
    "COLUMNS",
    "JOINED",
    "create",
    "delete",
    "deleted",
    "duplicate",
    "get",
    "to_item",
    "to_totals",
    "totals",
    "update",
    "with_category",
]

items_c = items.c
categories_c = categories.c


#: Validators of the writable fields (each raises ValidationError naming its field).
_FIELDS: Final = checks_of(ItemChanges)
_REQUIRED: Final = NewItem.__required_keys__
#: Columns a duplicate copies (everything but the id and the timestamps).
_COPIED: Final = [column for column in items.c if column.name in _FIELDS]


def _columns(source: FromClause) -> list[Any]:
    """The :class:`Item` columns of ``source`` (``items`` or a CTE of its rows) and its category."""
    return columns_for(
        Item,
        source,
        category_name=categories_c.name.label("category_name"),
        category_icon=categories_c.icon.label("category_icon"),
    )


#: The :class:`Item` columns, in field order, of :data:`JOINED`.
COLUMNS: Final = _columns(items)
#: ``items JOIN categories``.
JOINED: Final = items.join(categories, categories_c.id == items_c.category_id)


def with_category(written: FromClause) -> Select[Any]:
    """The :class:`Item` rows of ``written`` (a CTE of ``INSERT/UPDATE items ... RETURNING``
    every items column) joined with their category: one statement for a write that
    returns items."""
    return select(*_columns(written)).select_from(
        written.join(categories, categories_c.id == written.c.category_id)
    )


_GET: Final = Template(
    lambda: select(*COLUMNS).select_from(JOINED).where(items_c.id == bindparam("item_id"))
)


def get(item_id: int) -> Bound:
    """The item with id ``item_id``."""
    return _GET(item_id=v.identifier(item_id, "item_id"))


def to_item(row: AnyRow | None, key: object) -> Item:
    """The item of ``row`` (NotFoundError if there is none)."""
    return row_to(Item, row, "item", key)


@cache
def _create_for(names: frozenset[str]) -> Template:
    """The INSERT of an item giving ``names`` (compiled once per set of names; the
    columns left out take their defaults)."""

    def build() -> Select[Any]:
        values = {name: bindparam(name, type_=items.c[name].type) for name in sorted(names)}
        return with_category(insert_(items).values(values).returning(*items.c).cte("inserted"))

    return Template(build)


def create(**fields: Unpack[NewItem]) -> Bound:
    """Insert an item and return it with its category."""
    values = checked(fields, _FIELDS, _REQUIRED)
    return _create_for(frozenset(values))(**values)


def update(item_id: int, **fields: Unpack[ItemChanges]) -> Select[Any]:
    """Change the fields that are not :data:`UNSET` (``None`` clears an optional one)."""
    changes = patch(fields, _FIELDS)
    updated = (
        update_(items)
        .where(items_c.id == v.identifier(item_id, "item_id"))
        .values(changes)
        .returning(*items.c)
        .cte("updated")
    )
    return with_category(updated)


def duplicate(item_id: int) -> Select[Any]:
    """Copy an item (new id and timestamps) with one ``INSERT ... SELECT``."""
    source = select(*_COPIED).where(items_c.id == v.identifier(item_id, "item_id"))
    copied = (
        insert_(items)
        .from_select([column.name for column in _COPIED], source)
        .returning(*items.c)
        .cte("copied")
    )
    return with_category(copied)


def delete(item_id: int) -> Delete:
    """Delete an item."""
    return delete_(items).where(items_c.id == v.identifier(item_id, "item_id"))


def deleted(count: int, item_id: int) -> None:
    """Raise NotFoundError when the delete found nothing."""
    found(count or None, "item", item_id)


def totals() -> Select[Any]:
    """Units, weight and cost of the whole collection (every unit), and the
    number of items without a weight: the sums of ``category_totals`` (one row
    per category, kept by triggers), not an aggregate over ``items``."""
    category_totals_c = category_totals.c
    return select(
        func.coalesce(func.sum(category_totals_c.unit_count), 0),
        grams_of_numeric(func.coalesce(func.sum(category_totals_c.weight_grams), 0)),
        func.coalesce(func.sum(category_totals_c.cost_cents), 0),
        func.coalesce(func.sum(category_totals_c.unweighed_count), 0),
    )


def to_totals(row: AnyRow | None) -> CollectionTotals:
    """Map the row of :func:`totals` (sums come back as numeric: made exact ints here)."""
    units, grams, cents, unweighed = found(row, "totals", "collection")
    return CollectionTotals(int(units), float(grams), int(cents), int(unweighed))
