"""Statements and mappers of the threads repository (the threads themselves and
their resolution; the candidates' statements live in :mod:`.candidates`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, NoReturn, Unpack

import attrs
from sqlalchemy import (
    Delete,
    Insert,
    Select,
    Update,
    func,
    literal,
    select,
    true,
)
from sqlalchemy import delete as delete_
from sqlalchemy import insert as insert_
from sqlalchemy import update as update_

from gearbox_db._queries import _validate as v
from gearbox_db._queries import items as item_q
from gearbox_db._queries._common import AnyRow, columns_for, found, patch, row_to
from gearbox_db._queries._projection import Projection
from gearbox_db.errors import (
    ConcurrencyError,
    InvalidReferenceError,
    InvalidStateError,
    NotFoundError,
)
from gearbox_db.records import (
    Candidate,
    Item,
    Resolution,
    Thread,
    ThreadDetail,
    ThreadSummary,
)
from gearbox_db.schema import THREAD_STATUSES, categories, items, thread_candidates, threads
from gearbox_db.shapes import NewCandidate, NewItem, ThreadChanges, checks_of

__all__ = [
    "create",
    "delete",
    "deleted",
    "get",
    "list_summaries",
    "refuse_resolve",
    "refuse_unresolve",
    "resolve",
    "resolve_check",
    "status",
    "to_detail",
    "to_resolution",
    "to_summaries",
    "to_thread",
    "unresolve",
    "update",
]

threads_c = threads.c
thread_candidates_c = thread_candidates.c
_COLUMNS = columns_for(Thread, threads)
#: Rows of :func:`get`: the thread, then one candidate (NULLs when it has none).
_DETAIL: Final = Projection(thread=_COLUMNS, candidate=columns_for(Candidate, thread_candidates))
#: Rows of :func:`list_summaries`: the thread and its number of candidates.
_SUMMARY: Final = Projection(thread=_COLUMNS, candidates=[func.count(thread_candidates_c.id)])
#: Rows of :func:`resolve`: the thread, then the item created (with its category).
_RESOLUTION: Final = Projection(thread=_COLUMNS, item=item_q.COLUMNS)
#: The candidate's fields that become the item's when a thread is resolved.
_GEAR_FIELDS: Final = tuple(f for f in checks_of(NewItem) if f in checks_of(NewCandidate))
#: Columns of ``items`` the INSERT of :func:`resolve` returns (the Item's other
#: fields, its category's name and icon, are joined in).
_ITEM_COLUMNS = [f.name for f in attrs.fields(Item) if f.name in items.c]


def _thread_id(thread_id: object) -> int:
    return v.identifier(thread_id, "thread_id")


def create(name: str, category_id: int) -> Insert:
    """Insert an active thread."""
    values = {"name": v.name(name), "category_id": v.identifier(category_id, "category_id")}
    return insert_(threads).values(values).returning(*_COLUMNS)


def to_thread(row: AnyRow | None, key: object) -> Thread:
    """The thread of ``row`` (NotFoundError if there is none)."""
    return row_to(Thread, row, "thread", key)


def get(thread_id: int) -> Select[Any]:
    """The thread and its candidates in their order (ties by id), one row per
    candidate (one row of NULL candidate columns when it has none)."""
    return (
        select(*_DETAIL.columns)
        .outerjoin(thread_candidates, thread_candidates_c.thread_id == threads_c.id)
        .where(threads_c.id == _thread_id(thread_id))
        .order_by(thread_candidates_c.sort_order, thread_candidates_c.id)
    )


def to_detail(rows: Sequence[AnyRow], thread_id: int) -> ThreadDetail:
    """Map the rows of :func:`get` (NotFoundError if there are none)."""
    first = found(rows[0] if rows else None, "thread", thread_id)
    thread, candidate, present = _DETAIL["thread"], _DETAIL["candidate"], _DETAIL.at("candidate")
    candidates = tuple(Candidate(*row[candidate]) for row in rows if row[present] is not None)
    return ThreadDetail(Thread(*first[thread]), candidates)


def list_summaries(status: str | None = None) -> Select[Any]:
    """The threads (of ``status``, or all), newest first, with their candidate counts."""
    statement = (
        select(*_SUMMARY.columns)
        .outerjoin(thread_candidates, thread_candidates_c.thread_id == threads_c.id)
        .group_by(threads_c.id)
        .order_by(threads_c.created_at.desc(), threads_c.id.desc())
    )
    if status is not None:
        statement = statement.where(threads_c.status == v.choice(status, THREAD_STATUSES, "status"))
    return statement


def to_summaries(rows: Sequence[AnyRow]) -> tuple[ThreadSummary, ...]:
    """Map the rows of :func:`list_summaries`."""
    thread, count = _SUMMARY["thread"], _SUMMARY.at("candidates")
    return tuple(ThreadSummary(Thread(*row[thread]), row[count]) for row in rows)


def update(thread_id: int, **fields: Unpack[ThreadChanges]) -> Update:
    """Rename a thread and/or change its category (fields :data:`UNSET` are left alone)."""
    values = patch(fields, checks_of(ThreadChanges))
    return (
        update_(threads)
        .where(threads_c.id == _thread_id(thread_id))
        .values(values)
        .returning(*_COLUMNS)
    )


def delete(thread_id: int) -> Delete:
    """Delete a thread (its candidates go with it)."""
    return delete_(threads).where(threads_c.id == _thread_id(thread_id))


def deleted(count: int, what: str, key: object) -> None:
    """Raise NotFoundError when a delete found nothing."""
    found(count or None, what, key)


def resolve(thread_id: int, candidate_id: int) -> Select[Any]:
    """Resolve an active thread with one of its candidates, in ONE statement.

    The UPDATE marks the thread resolved only if it is active and owns the
    candidate; the INSERT creates the item from the candidate only if the
    UPDATE did. A concurrent resolve waits for the thread's row lock, then
    finds it resolved: no row, no item. Returns the thread's columns, then the
    item's (with its category's name and icon); no row when refused (see
    :func:`resolve_check`).
    """
    thread_key, candidate_key = _thread_id(thread_id), v.identifier(candidate_id, "candidate_id")
    owned = (
        select(thread_candidates_c.id)
        .where(thread_candidates_c.id == candidate_key, thread_candidates_c.thread_id == thread_key)
        .exists()
    )
    resolved = (
        update_(threads)
        .where(threads_c.id == thread_key, threads_c.status == "active", owned)
        .values(status="resolved", resolved_candidate_id=candidate_key)
        .returning(*_COLUMNS)
        .cte("resolved")
    )
    gear = select(*(thread_candidates_c[name] for name in _GEAR_FIELDS), literal(1))
    created = (
        insert_(items)
        .from_select(
            [*_GEAR_FIELDS, "quantity"],
            gear.join_from(
                thread_candidates, resolved, resolved.c.id == thread_candidates_c.thread_id
            ).where(thread_candidates_c.id == candidate_key),
        )
        .returning(*(items.c[name] for name in _ITEM_COLUMNS))
        .cte("created")
    )
    item = columns_for(
        Item, created, category_name=categories.c.name, category_icon=categories.c.icon
    )
    columns = _RESOLUTION.like(thread=columns_for(Thread, resolved), item=item)
    return select(*columns).select_from(
        resolved.join(created, true()).join(categories, categories.c.id == created.c.category_id)
    )


def to_resolution(row: AnyRow) -> Resolution:
    """Map the row of :func:`resolve`."""
    return Resolution(Thread(*row[_RESOLUTION["thread"]]), Item(*row[_RESOLUTION["item"]]))


def resolve_check(thread_id: int, candidate_id: int) -> Select[Any]:
    """Why a resolve was refused: the thread's status and the candidate's thread
    (each ``None`` when the row does not exist)."""
    return select(
        select(threads_c.status).where(threads_c.id == thread_id).scalar_subquery(),
        select(thread_candidates_c.thread_id)
        .where(thread_candidates_c.id == candidate_id)
        .scalar_subquery(),
    )


def refuse_resolve(row: AnyRow | None, thread_id: int, candidate_id: int) -> NoReturn:
    """Raise the error that explains the refused resolve, from :func:`resolve_check`."""
    status, owner = row if row is not None else (None, None)
    if status is None:
        raise NotFoundError(f"thread {thread_id!r} does not exist")
    if owner is None:
        raise NotFoundError(f"candidate {candidate_id!r} does not exist")
    if owner != thread_id:
        raise InvalidReferenceError(
            f"candidate {candidate_id!r} belongs to thread {owner!r}, not to thread {thread_id!r}"
        )
    if status != "active":
        raise InvalidStateError(f"thread {thread_id!r} is already resolved")
    # Resolved by somebody else and reopened again between our two statements.
    raise ConcurrencyError(f"thread {thread_id!r} changed while being resolved; retry")


def unresolve(thread_id: int) -> Update:
    """Reopen a resolved thread (the item created when it was resolved stays)."""
    return (
        update_(threads)
        .where(threads_c.id == _thread_id(thread_id), threads_c.status == "resolved")
        .values(status="active", resolved_candidate_id=None)
        .returning(*_COLUMNS)
    )


def status(thread_id: int) -> Select[Any]:
    """The status of the thread."""
    return select(threads_c.status).where(threads_c.id == _thread_id(thread_id))


def refuse_unresolve(current: str | None, thread_id: int) -> NoReturn:
    """Raise the error that explains a refused unresolve, from :func:`status`."""
    found(current, "thread", thread_id)
    raise InvalidStateError(f"thread {thread_id!r} is not resolved")
