"""Statements and mappers of the categories repository."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Delete,
    Insert,
    Select,
    Update,
    func,
    select,
    union_all,
)
from sqlalchemy import delete as delete_
from sqlalchemy import insert as insert_
from sqlalchemy import update as update_
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gearbox_db._queries import _validate as v
from gearbox_db._queries._common import AnyRow, Checks, checked, columns_for, patch, row_to, rows_to
from gearbox_db._queries.totals import grams_of_numeric
from gearbox_db.errors import InvalidStateError
from gearbox_db.records import Category, CategorySummary
from gearbox_db.schema import (
    UNCATEGORIZED,
    categories,
    category_totals,
    items,
    thread_candidates,
    threads,
)

__all__ = [
    "create",
    "delete",
    "ensure_uncategorized",
    "get",
    "get_by_name",
    "guarded",
    "list_summaries",
    "lock",
    "lock_contents",
    "move_contents",
    "to_category",
    "to_summaries",
    "update",
]

categories_c = categories.c
_COLUMNS = columns_for(Category, categories)
_CHECKS: Checks = {"name": v.key, "icon": v.name}


def get(category_id: int) -> Select[Any]:
    """The category with id ``category_id``."""
    return select(*_COLUMNS).where(categories_c.id == v.identifier(category_id, "category_id"))


def get_by_name(name: str) -> Select[Any]:
    """The category named exactly ``name``."""
    return select(*_COLUMNS).where(categories_c.name == v.name(name))


def to_category(row: AnyRow | None, key: object) -> Category:
    """The category of ``row`` (NotFoundError if there is none)."""
    return row_to(Category, row, "category", key)


def list_summaries() -> Select[Any]:
    """Every category with its item count, total weight and cost, by name: read from
    ``category_totals`` (one row per category, kept by triggers), not from the items."""
    category_totals_c = category_totals.c
    return (
        select(
            *_COLUMNS,
            func.coalesce(category_totals_c.item_count, 0),
            grams_of_numeric(func.coalesce(category_totals_c.weight_grams, 0)),
            func.coalesce(category_totals_c.cost_cents, 0),
        )
        .outerjoin(category_totals, category_totals_c.category_id == categories_c.id)
        .order_by(categories_c.name, categories_c.id)
    )


def to_summaries(rows: Any) -> tuple[CategorySummary, ...]:
    """Map the rows of :func:`list_summaries`."""
    return rows_to(CategorySummary, rows)


def create(name: str, icon: str) -> Insert:
    """Insert a category."""
    values = checked({"name": name, "icon": icon}, _CHECKS)
    return insert_(categories).values(values).returning(*_COLUMNS)


def lock(category_id: int) -> Select[Any]:
    """The category, locked against concurrent writers until the transaction ends.

    ``FOR UPDATE`` also makes concurrent inserts that reference the category
    wait (their foreign-key check needs a key-share lock on it).
    """
    return get(category_id).with_for_update()


def update(category_id: int, *, name: object, icon: object) -> Update:
    """Rename and/or re-icon a category (fields :data:`UNSET` are left alone)."""
    values = patch({"name": name, "icon": icon}, _CHECKS)
    return (
        update_(categories)
        .where(categories_c.id == category_id)
        .values(values)
        .returning(*_COLUMNS)
    )


def guarded(row: AnyRow | None, category_id: int, *, changing_name: bool = True) -> Category:
    """The locked category of ``row``: NotFoundError if missing, InvalidStateError
    if it is ``Uncategorized`` and the operation would delete or rename it."""
    category = to_category(row, category_id)
    if category.name == UNCATEGORIZED and changing_name:
        raise InvalidStateError(f"the {UNCATEGORIZED!r} category cannot be deleted or renamed")
    return category


def ensure_uncategorized() -> Select[Any]:
    """Id of ``Uncategorized``, created if somebody removed it behind our back."""
    inserted = (
        pg_insert(categories)
        .values(name=UNCATEGORIZED)
        .on_conflict_do_nothing(index_elements=[categories_c.name])
        .returning(categories_c.id)
        .cte("inserted")
    )
    existing = select(categories_c.id).where(categories_c.name == UNCATEGORIZED)
    return select(union_all(select(inserted.c.id), existing).subquery().c.id).limit(1)


def lock_contents(category_id: int) -> list[Select[Any]]:
    """Lock the items, threads and candidates of a category, before the category itself.

    Writers lock such a row first and then reference the category (an insert's
    foreign-key check takes a key-share lock on it): ``add_candidate`` locks its
    thread, ``resolve`` updates its thread and inserts an item. Taking the rows
    first and the category second keeps the delete in the same lock order, so
    the two wait for each other instead of deadlocking.
    """
    return [
        select(table.c.id)
        .where(table.c.category_id == category_id)
        .order_by(table.c.id)
        .with_for_update(key_share=True)
        for table in (items, threads, thread_candidates)
    ]


def move_contents(category_id: int, target_id: int) -> list[Update]:
    """Move the items, threads and candidates of one category to another."""
    return [
        update_(table).where(table.c.category_id == category_id).values(category_id=target_id)
        for table in (items, threads, thread_candidates)
    ]


def delete(category_id: int) -> Delete:
    """Delete a category (its contents must have been moved first)."""
    return delete_(categories).where(categories_c.id == category_id)
