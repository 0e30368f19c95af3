"""Statements and mappers for the candidates of a thread, and the arithmetic of
their manual order.

The order is a ``double precision`` ``sort_order`` (ties broken by id). A
new candidate goes last (max + 1). A move writes one value, the midpoint of
its new neighbours; when that midpoint no longer fits strictly between them
(or the gap is below :data:`MIN_GAP`, relative), the thread's candidates are
renumbered 0, 1, 2, ... in their new order instead. Writers of the order
lock the thread's row first, so concurrent moves and adds in one thread
happen one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Unpack

import attrs
from sqlalchemy import (
    BigInteger,
    Delete,
    Double,
    Insert,
    Select,
    Update,
    column,
    func,
    select,
    values,
)
from sqlalchemy import delete as delete_
from sqlalchemy import insert as insert_
from sqlalchemy import update as update_

from gearbox_db._queries import _validate as v
from gearbox_db._queries._common import AnyRow, checked, columns_for, found, patch, row_to
from gearbox_db.errors import InvalidReferenceError, InvalidStateError, ValidationError
from gearbox_db.records import Candidate
from gearbox_db.schema import thread_candidates, threads
from gearbox_db.shapes import CandidateChanges, NewCandidate, checks_of

__all__ = [
    "MIN_GAP",
    "Move",
    "add",
    "delete",
    "lock_thread",
    "lock_thread_of",
    "locked",
    "moved",
    "order_of",
    "place",
    "plan",
    "to_candidate",
    "update",
]

#: Smallest gap (relative to the magnitude of the neighbours' sort orders)
#: a move may split before the thread is renumbered.
MIN_GAP: Final = 1e-9

thread_candidates_c = thread_candidates.c
_COLUMNS = columns_for(Candidate, thread_candidates)


#: The validator of each field a caller may set on a candidate.
_CHECKS: Final = checks_of(CandidateChanges)
_REQUIRED: Final = NewCandidate.__required_keys__


def lock_thread(thread_id: int) -> Select[Any]:
    """Id of the thread, whose row stays locked until the transaction ends
    (the order of its candidates is then ours to change)."""
    thread_key = v.identifier(thread_id, "thread_id")
    return select(threads.c.id).where(threads.c.id == thread_key).with_for_update()


def lock_thread_of(candidate_id: int) -> Select[Any]:
    """Id of the candidate's thread, locked as by :func:`lock_thread`."""
    owner = select(thread_candidates_c.thread_id).where(
        thread_candidates_c.id == v.identifier(candidate_id, "candidate_id")
    )
    return select(threads.c.id).where(threads.c.id == owner.scalar_subquery()).with_for_update()


def locked(thread_id: int | None, what: str, key: object) -> int:
    """The id of the thread :func:`lock_thread` or :func:`lock_thread_of` locked
    (NotFoundError naming ``what`` if nothing was found)."""
    return found(thread_id, what, key)


def add(thread_id: int, fields: NewCandidate) -> Insert:
    """Insert a candidate last in its thread (``sort_order`` = max + 1, or 0 in
    an empty thread); without a ``category_id`` it takes the thread's."""
    thread_key = v.identifier(thread_id, "thread_id")
    given = {k: x for k, x in fields.items() if k != "category_id" or x is not None}
    values = checked(given, _CHECKS, _REQUIRED)
    if "category_id" not in values:
        own = select(threads.c.category_id).where(threads.c.id == thread_key)
        values["category_id"] = own.scalar_subquery()
    last = select(func.coalesce(func.max(thread_candidates_c.sort_order) + 1.0, 0.0)).where(
        thread_candidates_c.thread_id == thread_key
    )
    values.update(thread_id=thread_key, sort_order=last.scalar_subquery())
    return insert_(thread_candidates).values(values).returning(*_COLUMNS)


def to_candidate(row: AnyRow | None, key: object) -> Candidate:
    """The candidate of ``row`` (NotFoundError if there is none)."""
    return row_to(Candidate, row, "candidate", key)


def update(candidate_id: int, **fields: Unpack[CandidateChanges]) -> Update:
    """Change some fields of a candidate (fields :data:`UNSET` are left alone)."""
    changes = patch(fields, _CHECKS)
    return (
        update_(thread_candidates)
        .where(thread_candidates_c.id == v.identifier(candidate_id, "candidate_id"))
        .values(changes)
        .returning(*_COLUMNS)
    )


def delete(candidate_id: int) -> Delete:
    """Delete a candidate (a thread it resolved keeps its status, without the link)."""
    return delete_(thread_candidates).where(
        thread_candidates_c.id == v.identifier(candidate_id, "candidate_id")
    )


@attrs.frozen
class Move:
    """Where a candidate goes: right after ``after`` and/or right before ``before``
    (two candidates of its thread; with both, they must be neighbours)."""

    candidate_id: int
    after: int | None
    before: int | None

    @classmethod
    def of(cls, candidate_id: int, after: int | None, before: int | None) -> Move:
        """A validated move (ValidationError for missing or self-referencing neighbours)."""
        move = cls(
            v.identifier(candidate_id, "candidate_id"),
            None if after is None else v.identifier(after, "after"),
            None if before is None else v.identifier(before, "before"),
        )
        if move.after is None and move.before is None:
            raise ValidationError("give after and/or before: the neighbours of the new place")
        if move.candidate_id in (move.after, move.before):
            raise ValidationError("a candidate cannot be moved next to itself")
        if move.after == move.before:
            raise ValidationError("after and before must be two different candidates")
        return move


def order_of(thread_id: int) -> Select[Any]:
    """Ids and sort orders of the thread's candidates, in their order."""
    return (
        select(thread_candidates_c.id, thread_candidates_c.sort_order)
        .where(thread_candidates_c.thread_id == thread_id)
        .order_by(thread_candidates_c.sort_order, thread_candidates_c.id)
    )


def _slot(ids: list[int], move: Move, thread_id: int) -> int:
    """Index in ``ids`` (the thread's other candidates) where the candidate goes."""
    for neighbour in (move.after, move.before):
        if neighbour is not None and neighbour not in ids:
            raise InvalidReferenceError(
                f"candidate {neighbour!r} is not a candidate of thread {thread_id!r}"
            )
    if move.after is None:
        return 0 if move.before is None else ids.index(move.before)
    slot = ids.index(move.after) + 1
    if move.before is not None and (slot == len(ids) or ids[slot] != move.before):
        raise InvalidStateError(
            f"candidates {move.after!r} and {move.before!r} are not neighbours "
            f"in thread {thread_id!r} (any more)"
        )
    return slot


def _between(low: float | None, high: float | None) -> float | None:
    """A value strictly between ``low`` and ``high`` (``None``: an open end), or
    ``None`` when the gap is too small for one."""
    if low is None:
        value = 0.0 if high is None else high - 1.0
    elif high is None:
        value = low + 1.0
    elif high - low <= MIN_GAP * max(1.0, abs(low), abs(high)):
        return None
    else:
        value = low + (high - low) / 2  # not (low + high) / 2, which can overflow
    fits = (low is None or low < value) and (high is None or value < high)
    return value if fits else None


def plan(order: Sequence[tuple[int, float]], move: Move, thread_id: int) -> list[tuple[int, float]]:
    """The ``(id, sort_order)`` pairs to write for ``move``, given the thread's
    current ``order``: the moved candidate's new value, or every candidate's
    when the thread must be renumbered."""
    ids = [key for key, _ in order if key != move.candidate_id]
    if len(ids) == len(order):
        found(None, "candidate", move.candidate_id)
    sort_orders = dict(order)
    slot = _slot(ids, move, thread_id)
    low = sort_orders[ids[slot - 1]] if slot > 0 else None
    high = sort_orders[ids[slot]] if slot < len(ids) else None
    value = _between(low, high)
    if value is not None:
        return [(move.candidate_id, value)]
    ids.insert(slot, move.candidate_id)
    return [(key, float(position)) for position, key in enumerate(ids)]


def place(order: Sequence[AnyRow], move: Move, thread_id: int) -> Update:
    """Write the sort orders :func:`plan` decides, returning the candidates written."""
    new = values(column("id", BigInteger), column("sort_order", Double), name="new_order").data(
        plan([(row[0], row[1]) for row in order], move, thread_id)
    )
    return (
        update_(thread_candidates)
        .where(thread_candidates_c.id == new.c.id)
        .values(sort_order=new.c.sort_order)
        .returning(*_COLUMNS)
    )


def moved(rows: Sequence[AnyRow], candidate_id: int) -> Candidate:
    """The moved candidate among the rows :func:`place` returned."""
    row = next((row for row in rows if row[0] == candidate_id), None)
    return to_candidate(row, candidate_id)
