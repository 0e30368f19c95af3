"""Statements and mappers of the items listing: filters, sorts, keyset pages.

A page ends with an opaque cursor (urlsafe base64 of JSON) holding the sort
key and id of its last row, plus a fingerprint of the listing's sort,
direction and filters, so a cursor cannot be replayed on another listing.
Missing weights and prices sort last in either direction; ties go by id, so
the order is total and pages never skip or repeat a row. Each sort, direction
and category filter reads one index of ``schema.LISTING_INDEXES`` in one range
(two for weights and prices: the rows holding a value, then the missing ones,
each range cut at the page's size, the page sorted from at most twice its
rows): a page costs the same wherever it is in the listing. One index per
sort key serves both directions, scanned forwards or backwards.
Name search is ``lower(name) LIKE '%term%'``, which the trigram index serves
where pg_trgm is installed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import starmap
from typing import Any, Final, cast

import attrs
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Select,
    SelectBase,
    func,
    union_all,
    literal,
    select,
    true,
    tuple_,
)

from gearbox_db._queries import _cursor as cursors
from gearbox_db._queries import _validate as v
from gearbox_db._queries.items import COLUMNS, JOINED
from gearbox_db.errors import ValidationError
from gearbox_db.records import Item, ItemPage, ItemSort
from gearbox_db.schema import items

__all__ = ["SORTS", "Listing", "listing", "page", "records", "to_page"]

items_c = items.c
SORTS: Final[tuple[ItemSort, ...]] = ("name", "weight", "price", "created")
_SORT_COLUMNS: Final = {
    "name": "name",
    "weight": "weight_grams",
    "price": "price_cents",
    "created": "created_at",
}
_NULLABLE_SORTS: Final = frozenset({"weight", "price"})


@attrs.frozen
class Listing:
    """A validated listing request. ``after`` is the (sort value, id) of the
    previous page's last row, decoded from the caller's cursor."""

    sort: ItemSort
    descending: bool
    category_id: int | None
    search: str | None
    limit: int
    include_total: bool
    after: tuple[Any, int] | None = None

    @property
    def fingerprint(self) -> str:
        """What a cursor must match: sort, direction and filters (not the page size)."""
        key = json.dumps([self.sort, self.descending, self.category_id, self.search])
        return hashlib.sha256(key.encode()).hexdigest()[:16]


def _flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{field} must be True or False, got {value!r}")
    return value


def listing(
    *,
    category_id: object,
    search: object,
    sort: object,
    descending: object,
    limit: object,
    cursor: object,
    include_total: object,
) -> Listing:
    """Validate the arguments of a listing (and decode its cursor)."""
    request = Listing(
        sort=v.choice(sort, SORTS, "sort"),
        descending=_flag(descending, "descending"),
        category_id=None if category_id is None else v.identifier(category_id, "category_id"),
        search=v.optional_text(search, "search"),
        limit=v.limit(limit),
        include_total=_flag(include_total, "include_total"),
    )
    return request if cursor is None else attrs.evolve(request, after=_decode(cursor, request))


def _filters(request: Listing) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if request.category_id is not None:
        conditions.append(items_c.category_id == request.category_id)
    if request.search is not None:
        conditions.append(func.lower(items_c.name).like(func.lower(_pattern(request.search)), "\\"))
    return conditions


def _pattern(search: str) -> str:
    """A LIKE pattern matching names containing ``search`` literally."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _keys(request: Listing, value: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """The sort keys (before the id) of ``value``: a row's sort column, or a cursor's value."""
    if request.sort == "name":
        # Ignoring case first (as the search does), then exactly, so the order is total.
        return [func.lower(value), value]
    return [value]


def _order(request: Listing, source: FromClause, *, missing_last: bool = False) -> list[Any]:
    """The listing's order; ``missing_last`` for a page's rows (an index range of rows
    with a value, or of missing ones, is in index order: no NULLS LAST there)."""
    keys = [*_keys(request, source.c[_SORT_COLUMNS[request.sort]]), source.c.id]
    ordered = [key.desc() if request.descending else key.asc() for key in keys]
    if missing_last and request.sort in _NULLABLE_SORTS:
        ordered[0] = ordered[0].nulls_last()
    return ordered


def _beyond(request: Listing, row: ColumnElement[Any], last: ColumnElement[Any]) -> Any:
    return row < last if request.descending else row > last


def _after(request: Listing) -> ColumnElement[bool]:
    """Rows after ``request.after`` in the listing's order: one range of its index."""
    assert request.after is not None
    value, last_id = request.after
    column = items_c[_SORT_COLUMNS[request.sort]]
    row = tuple_(*_keys(request, column), items_c.id)
    last = tuple_(*_keys(request, literal(value, column.type)), literal(last_id, BigInteger))
    return cast(ColumnElement[bool], _beyond(request, row, last))


def _ids(request: Listing, conditions: list[ColumnElement[bool]]) -> SelectBase:
    """The ids of the page's rows, and of at most as many more, one index range each."""
    ranges = [conditions]
    if request.sort in _NULLABLE_SORTS:
        ranges = _value_then_missing(request, conditions)
    elif request.after is not None:
        ranges = [[*conditions, _after(request)]]
    selects = [
        select(items_c.id).where(*where).order_by(*_order(request, items)).limit(request.limit + 1)
        for where in ranges
    ]
    return selects[0] if len(selects) == 1 else union_all(*selects)


def _value_then_missing(
    request: Listing, conditions: list[ColumnElement[bool]]
) -> list[list[ColumnElement[bool]]]:
    """The two ranges of a weight or price listing: rows with a value, then the missing
    ones (one range of the same index, ordered by id); a cursor in the missing ones
    leaves only that range."""
    column = items_c[_SORT_COLUMNS[request.sort]]
    value, last_id = request.after if request.after is not None else (None, None)
    if request.after is not None and value is None:
        return [[*conditions, column.is_(None), _beyond(request, items_c.id, literal(last_id, BigInteger))]]
    present = [*conditions, column.is_not(None)]
    if request.after is not None:
        present.append(_after(request))
    return [present, [*conditions, column.is_(None)]]


def page(request: Listing) -> Select[Any]:
    """One page of the listing: ``limit + 1`` rows (the extra one says whether more follow);
    with ``include_total`` each row also carries the count of all matching rows."""
    conditions = _filters(request)
    if request.search is None and request.sort not in _NULLABLE_SORTS:
        matching = [*conditions, *([_after(request)] if request.after is not None else [])]
    else:
        # The ids first. A search: the planner may walk the sort's index reading only
        # the index (names are in it) until the page is full, or take the trigram
        # index's matches and sort them, whichever its statistics say is cheaper. A
        # weight or price: the rows with a value, then the missing ones. Then the rows.
        matching = [items_c.id.in_(_ids(request, conditions).scalar_subquery())]
    statement = (
        select(*COLUMNS)
        .select_from(JOINED)
        .where(*matching)
        .order_by(*_order(request, items, missing_last=True))
        .limit(request.limit + 1)
    )
    return _counted(statement, request, conditions) if request.include_total else statement


def _counted(
    statement: Select[Any], request: Listing, conditions: Sequence[ColumnElement[bool]]
) -> Select[Any]:
    # total LEFT JOIN page: one row even when the page is empty.
    total = select(func.count().label("total")).where(*conditions).select_from(items).subquery()
    rows = statement.subquery("page")
    return (
        select(*rows.c, total.c.total)
        .select_from(total.outerjoin(rows, true()))
        .order_by(*_order(request, rows, missing_last=True))
    )


def to_page(rows: Sequence[Sequence[Any]], request: Listing) -> ItemPage:
    """Map the rows of :func:`page` to a page with the cursor of the next one."""
    total: int | None = None
    matched: Sequence[Sequence[Any]] = rows
    if request.include_total:
        total = int(rows[0][-1])
        matched = [row[:-1] for row in rows if row[0] is not None]
    found = records(matched[: request.limit])
    more = len(matched) > request.limit
    return ItemPage(found, _encode(request, found[-1]) if more else None, total)


#: A mutable twin of :class:`Item`: the same slots, so the same memory layout.
_MutableItem: Final = attrs.make_class(
    "_MutableItem", [field.name for field in attrs.fields(Item)], slots=True, weakref_slot=False
)


def _item(*row: Any) -> Item:
    record = _MutableItem(*row)
    record.__class__ = Item  # same layout, so CPython allows it: now a frozen Item
    return cast(Item, record)


def records(rows: Iterable[Sequence[Any]]) -> tuple[Item, ...]:
    """``tuple(Item(*row) for row in rows)``, faster: the hot path of a listing.

    ``Item`` is frozen, so its attrs-generated ``__init__`` stores each field
    through ``object.__setattr__``: about 1 µs per 14-field row, the biggest
    cost of a listing after the query itself. Here each record is built by the
    plain ``__init__`` of a mutable twin with the same slots, then retyped to
    ``Item``: the same frozen record in about a third of the time (see
    benchmarks/items_list.py). Valid because ``Item.__init__`` only stores its
    arguments (no defaults, converters, validators or hooks) and ``Item`` has
    no ``__weakref__`` slot; the tests check both, and compare the records with
    ``Item(*row)``.
    """
    return tuple(starmap(_item, rows))


# --- cursors -------------------------------------------------------------------------------


def _sort_value(item: Item, sort: ItemSort) -> Any:
    if sort == "name":
        return item.name
    if sort == "weight":
        return item.weight_grams
    if sort == "price":
        return item.price_cents
    return item.created_at.isoformat()


def _encode(request: Listing, last: Item) -> str:
    return cursors.encode(request.fingerprint, _sort_value(last, request.sort), last.id)


def _decode(cursor: object, request: Listing) -> tuple[Any, int]:
    return cursors.decode(
        cursor,
        request.fingerprint,
        lambda value: _key_value(value, request.sort),
        "it belongs to a listing with another sort, direction or filter",
    )


def _key_value(value: object, sort: ItemSort) -> Any:
    if sort == "name":
        return v.text(value, "cursor")
    if sort == "weight":
        return v.weight(value, "cursor")
    if sort == "price":
        return v.price(value, "cursor")
    if not isinstance(value, str):
        raise ValidationError("cursor timestamp must be a string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"cursor timestamp {value!r} is not ISO 8601") from exc
    if moment.tzinfo is None:
        raise ValidationError("cursor timestamp has no time zone")
    return moment
