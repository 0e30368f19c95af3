"""The threads repository."""

from __future__ import annotations

from typing import Unpack

from gearbox_db._async.executor import AsyncExecutor
from gearbox_db._queries import candidates as c
from gearbox_db._queries import summary_pages as pages
from gearbox_db._queries import threads as q
from gearbox_db.records import (
    Candidate,
    Resolution,
    Thread,
    ThreadDetail,
    ThreadPage,
    ThreadStatus,
)
from gearbox_db.shapes import CandidateChanges, NewCandidate, NewThread, ThreadChanges


class AsyncThreadRepository:
    """Purchase-research threads and their candidates.

    A thread is ``active`` until it is resolved with one of its candidates,
    which becomes a collection item; unresolving reopens it (the item stays).
    Candidates keep a manual order (:meth:`move_candidate`).
    """

    def __init__(self, executor: AsyncExecutor) -> None:
        self._x = executor

    async def create(self, **fields: Unpack[NewThread]) -> Thread:
        """A new active thread: ``name`` and ``category_id`` (InvalidReferenceError
        for an unknown category)."""
        row = await self._x.first(q.create(**fields))
        return q.to_thread(row, fields["name"])

    async def get(self, thread_id: int) -> ThreadDetail:
        """The thread with its candidates in their order (NotFoundError if none)."""
        rows = await self._x.read.all(q.get(thread_id))
        return q.to_detail(rows, thread_id)

    async def list(
        self,
        *,
        status: ThreadStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
        include_total: bool = False,
    ) -> ThreadPage:
        """A page of threads, newest first, each with its number of candidates; only
        those with ``status`` (``"active"`` or ``"resolved"``) when given. One query
        per page, ``include_total`` included; ``next_cursor`` asks for the next page."""
        request = pages.paging(
            "threads", status=status, limit=limit, cursor=cursor, include_total=include_total
        )
        rows = await self._x.read.all(pages.threads_page(request))
        return pages.to_thread_page(rows, request)

    async def update(self, thread_id: int, **fields: Unpack[ThreadChanges]) -> Thread:
        """Rename the thread and/or change its category (NotFoundError if there is
        no such thread, InvalidReferenceError for an unknown category)."""
        row = await self._x.first(q.update(thread_id, **fields))
        return q.to_thread(row, thread_id)

    async def delete(self, thread_id: int) -> None:
        """Delete the thread and its candidates (NotFoundError if none); an item
        created by resolving it stays in the collection."""
        count = await self._x.rowcount(q.delete(thread_id))
        q.deleted(count, "thread", thread_id)

    async def add_candidate(self, thread_id: int, **fields: Unpack[NewCandidate]) -> Candidate:
        """A new candidate (:class:`~gearbox_db.shapes.NewCandidate`), placed last in
        the thread; without ``category_id`` it takes the thread's category.
        NotFoundError if there is no such thread, InvalidReferenceError for an
        unknown category, ValidationError for a blank name, a negative or
        non-finite weight, a negative price, NUL, ..."""
        statement = c.add(thread_id, fields)
        async with self._x.atomic() as x:
            c.locked(await x.scalar(c.lock_thread(thread_id)), "thread", thread_id)
            return c.to_candidate(await x.first(statement, last=True), thread_id)

    async def update_candidate(
        self, candidate_id: int, **fields: Unpack[CandidateChanges]
    ) -> Candidate:
        """Change some fields of a candidate (:class:`~gearbox_db.shapes.CandidateChanges`;
        fields left out stay, ``None`` clears an optional one). Its place is changed
        by :meth:`move_candidate`."""
        statement = c.update(candidate_id, **fields)
        return c.to_candidate(await self._x.first(statement), candidate_id)

    async def delete_candidate(self, candidate_id: int) -> None:
        """Delete a candidate (NotFoundError if none). A thread it resolved stays
        resolved, with ``resolved_candidate_id`` cleared."""
        count = await self._x.rowcount(c.delete(candidate_id))
        q.deleted(count, "candidate", candidate_id)

    async def move_candidate(
        self, candidate_id: int, *, after: int | None = None, before: int | None = None
    ) -> Candidate:
        """Move a candidate right after ``after`` and/or right before ``before``
        (candidates of the same thread; to move it first give only ``before`` =
        the first one, last: only ``after`` = the last one).

        Errors: NotFoundError (no such candidate), ValidationError (neither
        neighbour given, or itself), InvalidReferenceError (a neighbour that is
        not in the thread), InvalidStateError (``after`` and ``before`` given
        but not next to each other). Moves in one thread happen one at a time.
        """
        move = c.Move.of(candidate_id, after, before)
        async with self._x.atomic() as x:
            locked = await x.scalar(c.lock_thread_of(candidate_id))
            thread_id = c.locked(locked, "candidate", candidate_id)
            order = await x.all(c.order_of(thread_id))
            placed = await x.all(c.place(order, move, thread_id), last=True)
            return c.moved(placed, candidate_id)

    async def resolve(self, thread_id: int, candidate_id: int) -> Resolution:
        """Resolve an active thread with one of its candidates: a collection item
        (quantity 1) is created from the candidate's fields and the thread is
        marked resolved, atomically; of concurrent resolves only one succeeds.

        Errors: NotFoundError (no such thread or candidate), InvalidReferenceError
        (the candidate belongs to another thread), InvalidStateError (the thread
        is already resolved).
        """
        row = await self._x.first(q.resolve(thread_id, candidate_id))
        if row is None:
            check = await self._x.first(q.resolve_check(thread_id, candidate_id))
            q.refuse_resolve(check, thread_id, candidate_id)
        return q.to_resolution(row)

    async def unresolve(self, thread_id: int) -> Thread:
        """Reopen a resolved thread (the item created by resolving it stays):
        NotFoundError if there is no such thread, InvalidStateError if it is active."""
        row = await self._x.first(q.unresolve(thread_id))
        if row is None:
            q.refuse_unresolve(await self._x.scalar(q.status(thread_id)), thread_id)
        return q.to_thread(row, thread_id)
