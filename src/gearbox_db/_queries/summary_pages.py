"""Keyset pages of the setups (by name) and threads (newest first) listings.

Like the items listing (:mod:`.item_pages`): ``limit + 1`` rows tell whether
more follow, an opaque cursor holds the sort key and id of the page's last row
and a fingerprint of the listing (a cursor of another listing is refused).
The page's ids come first, from one range of ``ix_setups_by_name`` or
``ix_threads_by_[status_]created``; then the page's rows with their totals or
candidate counts, aggregated over those ids only: one query per page,
``include_total`` included, whatever the size of the collection.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Subquery,
    Text,
    func,
    literal,
    select,
    true,
    tuple_,
)
from sqlalchemy.types import DateTime

from gearbox_db._queries import _cursor as cursors
from gearbox_db._queries import _validate as v
from gearbox_db._queries import setups as setup_q
from gearbox_db._queries import threads as thread_q
from gearbox_db._queries._common import AnyRow
from gearbox_db.errors import ValidationError
from gearbox_db.records import SetupPage, ThreadPage
from gearbox_db.schema import THREAD_STATUSES, setups, threads

__all__ = [
    "Paging",
    "paging",
    "setups_page",
    "threads_page",
    "to_setup_page",
    "to_thread_page",
]


@attrs.frozen
class Paging:
    """A validated page request of the ``kind`` listing (``"setups"`` or ``"threads"``)."""

    kind: str
    status: str | None
    limit: int
    include_total: bool
    after: tuple[Any, int] | None = None

    @property
    def fingerprint(self) -> str:
        """What a cursor must match: the listing and its filter."""
        key = json.dumps([self.kind, self.status])
        return hashlib.sha256(key.encode()).hexdigest()[:16]


def paging(
    kind: str, *, status: object, limit: object, cursor: object, include_total: object
) -> Paging:
    """Validate the arguments of a page of ``kind`` (and decode its cursor)."""
    if not isinstance(include_total, bool):
        raise ValidationError(f"include_total must be True or False, got {include_total!r}")
    request = Paging(
        kind=kind,
        status=None if status is None else v.choice(status, THREAD_STATUSES, "status"),
        limit=v.limit(limit),
        include_total=include_total,
    )
    return request if cursor is None else attrs.evolve(request, after=_decode(cursor, request))


def _counted(
    statement: Select[Any], total: Select[Any], order: Callable[[Subquery], list[Any]]
) -> Select[Any]:
    """``statement``'s rows each with the ``total`` count (one row when there are none)."""
    counted = total.subquery()
    rows = statement.subquery("page")
    return (
        select(*rows.c, counted.c.total)
        .select_from(counted.outerjoin(rows, true()))
        .order_by(*order(rows))
    )


def setups_page(request: Paging) -> Select[Any]:
    """A page of setups by name, each with its totals."""
    setups_c = setups.c
    ids = select(setups_c.id).order_by(setups_c.name, setups_c.id).limit(request.limit + 1)
    if request.after is not None:
        name, last_id = request.after
        ids = ids.where(
            tuple_(setups_c.name, setups_c.id) > tuple_(literal(name, Text), _id(last_id))
        )
    statement = setup_q.list_summaries().where(setups_c.id.in_(ids))
    if not request.include_total:
        return statement
    total = select(func.count().label("total")).select_from(setups)
    return _counted(statement, total, lambda rows: [rows.c.name, rows.c.id])


def threads_page(request: Paging) -> Select[Any]:
    """A page of threads, newest first, each with its number of candidates."""
    threads_c = threads.c
    matching: list[ColumnElement[bool]] = []
    if request.status is not None:
        matching.append(threads_c.status == request.status)
    ids = (
        select(threads_c.id)
        .where(*matching)
        .order_by(threads_c.created_at.desc(), threads_c.id.desc())
    )
    if request.after is not None:
        moment, last_id = request.after
        bound = tuple_(literal(moment, DateTime(timezone=True)), _id(last_id))
        ids = ids.where(tuple_(threads_c.created_at, threads_c.id) < bound)
    statement = thread_q.list_summaries(None).where(threads_c.id.in_(ids.limit(request.limit + 1)))
    if not request.include_total:
        return statement
    total = select(func.count().label("total")).select_from(threads).where(*matching)
    return _counted(statement, total, lambda rows: [rows.c.created_at.desc(), rows.c.id.desc()])


def _id(value: int) -> ColumnElement[int]:
    return literal(value, BigInteger)


def _split(rows: Sequence[Any], request: Paging) -> tuple[Sequence[Any], int | None]:
    if not request.include_total:
        return rows, None
    total = int(rows[0][-1])
    return [row[:-1] for row in rows if row[0] is not None], total


def to_setup_page(rows: Sequence[AnyRow], request: Paging) -> SetupPage:
    """Map the rows of :func:`setups_page` to a page with the cursor of the next one."""
    matched, total = _split(rows, request)
    found = setup_q.to_summaries(matched[: request.limit])
    more = len(matched) > request.limit
    last = found[-1].setup if more else None
    cursor = None if last is None else _encode(request, last.name, last.id)
    return SetupPage(found, cursor, total)


def to_thread_page(rows: Sequence[AnyRow], request: Paging) -> ThreadPage:
    """Map the rows of :func:`threads_page` to a page with the cursor of the next one."""
    matched, total = _split(rows, request)
    found = thread_q.to_summaries(matched[: request.limit])
    more = len(matched) > request.limit
    last = found[-1].thread if more else None
    cursor = None if last is None else _encode(request, last.created_at.isoformat(), last.id)
    return ThreadPage(found, cursor, total)


# --- cursors -------------------------------------------------------------------------------


def _encode(request: Paging, key: str, last_id: int) -> str:
    return cursors.encode(request.fingerprint, key, last_id)


def _decode(cursor: object, request: Paging) -> tuple[Any, int]:
    return cursors.decode(
        cursor,
        request.fingerprint,
        lambda value: _key(value, request.kind),
        "it belongs to another listing or filter",
    )


def _key(value: object, kind: str) -> Any:
    if kind == "setups":
        return v.text(value, "cursor")
    if not isinstance(value, str):
        raise ValidationError("cursor timestamp must be a string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"cursor timestamp {value!r} is not ISO 8601") from exc
    if moment.tzinfo is None:
        raise ValidationError("cursor timestamp has no time zone")
    return moment
