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

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import starmap
from typing import Any, Final, Literal, cast

import attrs
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Integer,
    Select,
    Text,
    bindparam,
    func,
    select,
    true,
    tuple_,
    union_all,
)

from gearbox_db._queries import _cursor as cursors
from gearbox_db._queries import _validate as v
from gearbox_db._queries._compiled import Bound, Template
from gearbox_db._queries.items import COLUMNS, JOINED, with_category
from gearbox_db.errors import ValidationError
from gearbox_db.records import Item, ItemPage, ItemSort
from gearbox_db.schema import items

__all__ = ["SORTS", "Listing", "bound", "listing", "page", "records", "to_page"]

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


@attrs.frozen
class _Shape:
    """What a listing's statement depends on besides its values: one compiled template
    each (values go in as the parameters named in :func:`_values`)."""

    sort: ItemSort
    descending: bool
    category: bool
    search: bool
    after: Literal["value", "missing"] | None
    include_total: bool


def _shape(request: Listing) -> _Shape:
    after: Literal["value", "missing"] | None = None
    if request.after is not None:
        after = "missing" if request.after[0] is None else "value"
        if after == "missing" and request.sort not in _NULLABLE_SORTS:
            raise ValueError(f"a {request.sort} cursor always has a value")  # _decode's check
    return _Shape(
        request.sort,
        request.descending,
        request.category_id is not None,
        request.search is not None,
        after,
        request.include_total,
    )


def _values(request: Listing) -> dict[str, Any]:
    values: dict[str, Any] = {"rows": request.limit + 1}
    if request.category_id is not None:
        values["category_id"] = request.category_id
    if request.search is not None:
        values["pattern"] = _pattern(request.search)
    if request.after is not None:
        values["after_id"] = request.after[1]
        if request.after[0] is not None:
            values["after_value"] = request.after[0]
    return values


_ROWS: Final = bindparam("rows", type_=Integer)


def _filters(shape: _Shape) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if shape.category:
        conditions.append(items_c.category_id == bindparam("category_id", type_=BigInteger))
    if shape.search:
        pattern = bindparam("pattern", type_=Text)
        conditions.append(func.lower(items_c.name).like(func.lower(pattern), "\\"))
    return conditions


def _pattern(search: str) -> str:
    """A LIKE pattern matching names containing ``search`` literally."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _keys(shape: _Shape, value: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """The sort keys (before the id) of ``value``: a row's sort column, or a cursor's value."""
    if shape.sort == "name":
        # Ignoring case first (as the search does), then exactly, so the order is total.
        return [func.lower(value), value]
    return [value]


def _order(shape: _Shape, source: FromClause, *, missing_last: bool = False) -> list[Any]:
    """The listing's order; ``missing_last`` for a page's rows (an index range of rows
    with a value, or of missing ones, is in index order: no NULLS LAST there)."""
    keys = [*_keys(shape, source.c[_SORT_COLUMNS[shape.sort]]), source.c.id]
    ordered = [key.desc() if shape.descending else key.asc() for key in keys]
    if missing_last and shape.sort in _NULLABLE_SORTS:
        ordered[0] = ordered[0].nulls_last()
    return ordered


def _beyond(shape: _Shape, row: ColumnElement[Any], last: ColumnElement[Any]) -> Any:
    return row < last if shape.descending else row > last


_AFTER_ID: Final = bindparam("after_id", type_=BigInteger)


def _after(shape: _Shape) -> ColumnElement[bool]:
    """Rows after the cursor's (value, id) in the listing's order: one range of its index."""
    column = items_c[_SORT_COLUMNS[shape.sort]]
    row = tuple_(*_keys(shape, column), items_c.id)
    last = tuple_(*_keys(shape, bindparam("after_value", type_=column.type)), _AFTER_ID)
    return cast(ColumnElement[bool], _beyond(shape, row, last))


def _range(shape: _Shape, where: Sequence[ColumnElement[bool]], *columns: Any) -> Select[Any]:
    """``columns`` of the first ``limit + 1`` rows of ``where`` in the listing's order."""
    return select(*columns).where(*where).order_by(*_order(shape, items)).limit(_ROWS)


def _value_then_missing(shape: _Shape) -> list[list[ColumnElement[bool]]]:
    """The two ranges of a weight or price listing: rows with a value, then the missing
    ones (one range of the same index, ordered by id); a cursor in the missing ones
    leaves only that range."""
    column, conditions = items_c[_SORT_COLUMNS[shape.sort]], _filters(shape)
    if shape.after == "missing":
        return [[*conditions, column.is_(None), _beyond(shape, items_c.id, _AFTER_ID)]]
    present = [*conditions, column.is_not(None), *([_after(shape)] if shape.after else [])]
    return [present, [*conditions, column.is_(None)]]


def _build(shape: _Shape) -> Select[Any]:
    if shape.sort in _NULLABLE_SORTS:
        # The first rows of each range (values, then missing ones), the page from them.
        ranges = [_range(shape, where, *items.c) for where in _value_then_missing(shape)]
        rows = (ranges[0] if len(ranges) == 1 else union_all(*ranges)).subquery("ranges")
        statement = with_category(rows).order_by(*_order(shape, rows, missing_last=True))
        statement = statement.limit(_ROWS)
    else:
        matching = [*_filters(shape), *([_after(shape)] if shape.after else [])]
        if shape.search:
            # The ids first: the planner may walk the sort's index reading only the index
            # (names are in it) until the page is full, or take the trigram index's
            # matches and sort them, whichever its statistics say is cheaper; then the rows.
            matching = [items_c.id.in_(_range(shape, matching, items_c.id).scalar_subquery())]
        statement = select(*COLUMNS).select_from(JOINED).where(*matching)
        statement = statement.order_by(*_order(shape, items)).limit(_ROWS)
    return _counted(statement, shape) if shape.include_total else statement


def _counted(statement: Select[Any], shape: _Shape) -> Select[Any]:
    # total LEFT JOIN page: one row even when the page is empty.
    total = select(func.count().label("total")).where(*_filters(shape)).select_from(items)
    counted, rows = total.subquery(), statement.subquery("page")
    return (
        select(*rows.c, counted.c.total)
        .select_from(counted.outerjoin(rows, true()))
        .order_by(*_order(shape, rows, missing_last=True))
    )


@functools.cache
def _template(shape: _Shape) -> Template:
    return Template(lambda: _build(shape))


def page(request: Listing) -> Select[Any]:
    """One page of the listing as a statement (for tools and tests; the repositories run
    :func:`bound`): ``limit + 1`` rows (the extra one says whether more follow); with
    ``include_total`` each row also carries the count of all matching rows."""
    return cast(Select[Any], _template(_shape(request)).statement).params(**_values(request))


def bound(request: Listing) -> Bound:
    """:func:`page`, compiled once per shape: what a listing runs."""
    return _template(_shape(request))(**_values(request))


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
