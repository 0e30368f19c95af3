r"""Statements and mappers of the setups repository (totals: :mod:`.totals`).

Every statement that changes a setup's entries runs after :func:`lock` (or
:func:`touch`, for ``replace_items``) in the same transaction, in a statement
of its own: the lock serialises the writers of one setup, and a statement
started after the lock was granted sees what the previous holder committed.
Adding, removing and reclassifying an entry also move the setup's
``updated_at`` (in the same statement, only when something changed).

Statements of fixed shape are :class:`~._compiled.Template`\ s: built and
compiled once, with bound parameters, each call binding its values; small
DML statements are built per call.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any, Final, Unpack

import attrs
from sqlalchemy import (
    ARRAY,
    CTE,
    BigInteger,
    Delete,
    Insert,
    Select,
    Text,
    Update,
    bindparam,
    column,
    func,
    literal,
    select,
)
from sqlalchemy import delete as delete_
from sqlalchemy import insert as insert_
from sqlalchemy import update as update_

from gearbox_db._queries import _validate as v
from gearbox_db._queries import totals as totals_q
from gearbox_db._queries._common import AnyRow, checked, columns_for, found, row_to
from gearbox_db._queries._compiled import Bound, Template
from gearbox_db._queries._projection import Projection
from gearbox_db.errors import ValidationError
from gearbox_db.records import (
    CategoryTotals,
    Classification,
    Item,
    Setup,
    SetupDetail,
    SetupEntry,
    SetupSummary,
    SetupTotals,
)
from gearbox_db.schema import CLASSIFICATIONS, categories, items, setup_items, setups
from gearbox_db.shapes import EntryChanges, NewEntry, checks_of, defaults_of

__all__ = [
    "Entries",
    "add_item",
    "clear",
    "create",
    "delete",
    "deleted",
    "detail",
    "entry_changed",
    "insert_entries",
    "list_summaries",
    "lock",
    "remove_item",
    "removed",
    "rename",
    "set_classification",
    "to_detail",
    "to_setup",
    "to_setup_id",
    "to_summaries",
    "touch",
    "validate_entries",
]

#: What ``replace_items`` takes: ``{item_id: classification}`` or
#: ``(item_id, classification)`` pairs.
Entries = Mapping[int, Classification] | Sequence[tuple[int, Classification]]

setups_c = setups.c
setup_items_c = setup_items.c
_COLUMNS: Final = columns_for(Setup, setups)
#: The fields of an entry besides its item (its columns in ``setup_items``).
_ENTRY_FIELDS: Final = tuple(f.name for f in attrs.fields(SetupEntry) if f.name != "item")
_ENTRY_COLUMNS: Final = tuple(setup_items_c[name] for name in _ENTRY_FIELDS)
_NEW_CHECKS: Final = checks_of(NewEntry)
_NEW_DEFAULTS: Final = defaults_of(NewEntry)
_CHANGE_CHECKS: Final = checks_of(EntryChanges)
_CHANGE_REQUIRED: Final = EntryChanges.__required_keys__
_ITEM_COLUMNS: Final = columns_for(
    Item, items, category_name=categories.c.name, category_icon=categories.c.icon
)
#: Rows of :func:`add_item` and :func:`set_classification`: the item, the entry's fields.
_ENTRY_ROW: Final = Projection(item=_ITEM_COLUMNS, entry=_ENTRY_COLUMNS)
#: Rows of :func:`list_summaries`: the setup and its totals.
_SUMMARY: Final = Projection(setup=_COLUMNS, totals=totals_q.figures())
#: Rows of :func:`detail`: the setup, an entry (item, entry fields; NULLs when
#: there is none), the setup's totals and those of the entry's category.
_DETAIL_ROW: Final = Projection(
    setup=_COLUMNS,
    item=_ITEM_COLUMNS,
    entry=_ENTRY_COLUMNS,
    overall=totals_q.figures(lambda aggregate: aggregate.over()),
    category=totals_q.figures(lambda aggregate: aggregate.over(partition_by=categories.c.id)),
)
_SETUP_ID: Final = totals_q.SETUP_ID


def _setup_id(setup_id: int) -> int:
    return v.identifier(setup_id, "setup_id")


def _classification(value: object) -> Classification:
    return v.choice(value, CLASSIFICATIONS, "classification")


def create(name: str) -> Insert:
    """Insert a setup."""
    return insert_(setups).values(name=v.name(name)).returning(*_COLUMNS)


def to_setup(row: AnyRow | None, setup_id: object) -> Setup:
    """The setup of ``row`` (NotFoundError if there is none)."""
    return row_to(Setup, row, "setup", setup_id)


def rename(setup_id: int, name: str) -> Update:
    """Rename a setup."""
    return (
        update_(setups)
        .where(setups_c.id == _setup_id(setup_id))
        .values(name=v.name(name))
        .returning(*_COLUMNS)
    )


def delete(setup_id: int) -> Delete:
    """Delete a setup (its entries go with it)."""
    return delete_(setups).where(setups_c.id == _setup_id(setup_id))


def deleted(count: int, setup_id: int) -> None:
    """Raise NotFoundError when the delete found nothing."""
    found(count or None, "setup", setup_id)


def _list_summaries() -> Select[Any]:
    return (
        select(*_SUMMARY.columns)
        .select_from(totals_q.entries_join(with_categories=False))
        .group_by(setups_c.id)
        .order_by(setups_c.name, setups_c.id)
    )


_LIST: Final = _list_summaries()


def list_summaries() -> Select[Any]:
    """Every setup with its totals, by name, in one query."""
    return _LIST


def to_summaries(rows: Sequence[AnyRow]) -> tuple[SetupSummary, ...]:
    """Map the rows of :func:`list_summaries`."""
    setup, totals = _SUMMARY["setup"], _SUMMARY["totals"]
    return tuple(SetupSummary(Setup(*row[setup]), SetupTotals(*row[totals])) for row in rows)


def _detail() -> Select[Any]:
    return (
        select(*_DETAIL_ROW.columns)
        .select_from(totals_q.entries_join())
        .where(setups_c.id == _SETUP_ID)
        .order_by(categories.c.name, items.c.name, items.c.id)
    )


_DETAIL: Final = Template(_detail)


def detail(setup_id: int) -> Bound:
    """The setup, each entry (item data, classification) by category name then
    item name, and beside each the setup's and its category's totals (window
    aggregates): one query, so entries and totals come from one snapshot.
    A setup without entries gives one row of NULL entry columns."""
    return _DETAIL(setup_id=_setup_id(setup_id))


def to_detail(rows: Sequence[AnyRow], setup_id: int) -> SetupDetail:
    """Map the rows of :func:`detail` (NotFoundError if there are none)."""
    first = found(rows[0] if rows else None, "setup", setup_id)
    part = _DETAIL_ROW
    rows = [row for row in rows if row[part.at("item")] is not None]
    entries = tuple(SetupEntry(Item(*row[part["item"]]), *row[part["entry"]]) for row in rows)
    by_category: dict[int, CategoryTotals] = {}
    for entry, row in zip(entries, rows, strict=True):
        item = entry.item
        if item.category_id not in by_category:
            figures = row[part["category"]]
            by_category[item.category_id] = CategoryTotals(
                item.category_id, item.category_name, *figures
            )
    overall = SetupTotals(*first[part["overall"]])
    totals = attrs.evolve(overall, by_category=tuple(by_category.values()))
    return SetupDetail(Setup(*first[part["setup"]]), entries, totals)


_LOCK: Final = Template(
    lambda: select(setups_c.id).where(setups_c.id == _SETUP_ID).with_for_update(key_share=True)
)


def lock(setup_id: int) -> Bound:
    """The setup's id, its row locked against other writers of its entries."""
    return _LOCK(setup_id=_setup_id(setup_id))


def to_setup_id(value: int | None, setup_id: int) -> int:
    """The id :func:`lock` or :func:`touch` returned (NotFoundError if none)."""
    return found(value, "setup", setup_id)


def touch(setup_id: int) -> Update:
    """Lock the setup's row and move its ``updated_at``; returns its id."""
    return (
        update_(setups)
        .where(setups_c.id == _setup_id(setup_id))
        .values(updated_at=func.now())
        .returning(setups_c.id)
    )


def _touching(changed: CTE) -> CTE:
    """Move ``updated_at`` of the setups of the ``changed`` entries."""
    ids = select(changed.c.setup_id)
    touched = update_(setups).where(setups_c.id.in_(ids)).values(updated_at=func.now())
    return touched.returning(setups_c.id).cte("touched")


def _entry_of(changed: Insert | Update) -> Select[Any]:
    """The entry ``changed`` returns, with its item's data; touches the setup."""
    cte = changed.returning(*_RETURNED).cte("changed")
    joined = cte.join(items, items.c.id == cte.c.item_id).join(
        categories, categories.c.id == items.c.category_id
    )
    columns = _ENTRY_ROW.like(item=_ITEM_COLUMNS, entry=[cte.c[name] for name in _ENTRY_FIELDS])
    return select(*columns).select_from(joined).add_cte(_touching(cte))


_ITEM_ID: Final = bindparam("item_id", type_=BigInteger)
_RETURNED: Final = (setup_items_c.setup_id, setup_items_c.item_id, *_ENTRY_COLUMNS)
_ENTRY: Final = (setup_items_c.setup_id == _SETUP_ID) & (setup_items_c.item_id == _ITEM_ID)


def _bound(names: Iterable[str]) -> dict[str, Any]:
    """A bound parameter for each named entry column, named and typed as it."""
    return {name: bindparam(name, type_=setup_items_c[name].type) for name in names}


_ADD: Final = Template(
    lambda: _entry_of(
        insert_(setup_items).values(setup_id=_SETUP_ID, item_id=_ITEM_ID, **_bound(_ENTRY_FIELDS))
    )
)


@cache
def _set(fields: frozenset[str]) -> Template:
    """The update of the ``fields`` given (one template for each set of them)."""
    ordered = [name for name in _ENTRY_FIELDS if name in fields]
    return Template(lambda: _entry_of(update_(setup_items).where(_ENTRY).values(**_bound(ordered))))


def _remove() -> Select[Any]:
    removed = delete_(setup_items).where(_ENTRY).returning(*_RETURNED).cte("changed")
    return select(removed.c.item_id).add_cte(_touching(removed))


_REMOVE: Final = Template(_remove)


def _entry(setup_id: int, item_id: int, **more: object) -> dict[str, object]:
    return {"setup_id": _setup_id(setup_id), "item_id": v.identifier(item_id, "item_id"), **more}


def add_item(setup_id: int, item_id: int, **fields: Unpack[NewEntry]) -> Bound:
    """Add an entry to a (locked) setup; returns the entry."""
    values = {**_NEW_DEFAULTS, **checked(fields, _NEW_CHECKS)}
    return _ADD(**_entry(setup_id, item_id, **values))


def set_classification(setup_id: int, item_id: int, **fields: Unpack[EntryChanges]) -> Bound:
    """Change an entry of a (locked) setup; returns the entry (no row if none)."""
    values = checked(fields, _CHANGE_CHECKS, _CHANGE_REQUIRED)
    return _set(frozenset(values))(**_entry(setup_id, item_id, **values))


def entry_changed(row: AnyRow | None, setup_id: int, item_id: int) -> SetupEntry:
    """The entry of ``row`` (NotFoundError if the item is not in the setup)."""
    entry = found(row, "entry", f"item {item_id} in setup {setup_id}")
    return SetupEntry(Item(*entry[_ENTRY_ROW["item"]]), *entry[_ENTRY_ROW["entry"]])


def remove_item(setup_id: int, item_id: int) -> Bound:
    """Remove an entry of a (locked) setup; returns the item id (no row if none)."""
    return _REMOVE(**_entry(setup_id, item_id))


def removed(item_id: int | None, setup_id: int, requested: int) -> None:
    """Raise NotFoundError when the item was not in the setup."""
    found(item_id, "entry", f"item {requested} in setup {setup_id}")


def validate_entries(entries: object) -> tuple[list[int], list[Classification]]:
    """The item ids and classifications of ``entries``, checked (no duplicate item)."""
    if isinstance(entries, Mapping):
        pairs: Iterable[object] = entries.items()
    elif isinstance(entries, Iterable) and not isinstance(entries, str | bytes):
        pairs = entries
    else:
        raise ValidationError(
            "entries must be a mapping or a sequence of (item_id, classification) pairs, "
            f"got {type(entries).__name__}"
        )
    item_ids: list[int] = []
    classifications: list[Classification] = []
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ValidationError(f"entries must be (item_id, classification) pairs, got {pair!r}")
        item_ids.append(v.identifier(pair[0], "item_id"))
        classifications.append(_classification(pair[1]))
    twice = sorted(item for item, count in Counter(item_ids).items() if count > 1)
    if twice:
        raise ValidationError(f"entries name these items more than once: {twice}")
    return item_ids, classifications


def clear(setup_id: int) -> Delete:
    """Delete every entry of a setup."""
    return delete_(setup_items).where(setup_items_c.setup_id == _setup_id(setup_id))


def insert_entries(
    setup_id: int, item_ids: list[int], classifications: list[Classification]
) -> Insert:
    """Insert the entries of a setup in one statement (from two arrays)."""
    given = (
        func.unnest(literal(item_ids, ARRAY(BigInteger)), literal(classifications, ARRAY(Text)))
        .table_valued(column("item_id", BigInteger), column("classification", Text))
        .render_derived(with_types=False)
    )
    rows = select(literal(_setup_id(setup_id), BigInteger), given.c.item_id, given.c.classification)
    return insert_(setup_items).from_select(["setup_id", "item_id", "classification"], rows)
