"""The setups repository."""

from __future__ import annotations

from typing import Unpack

from gearbox_db._async.executor import AsyncExecutor
from gearbox_db._queries import setups as q
from gearbox_db._queries import summary_pages as pages
from gearbox_db._queries import totals as t
from gearbox_db.records import (
    Setup,
    SetupDetail,
    SetupEntry,
    SetupPage,
    SetupTotals,
)
from gearbox_db.shapes import EntryChanges, NewEntry


class AsyncSetupRepository:
    """Setups (packing lists): collection items, each classified ``base``,
    ``worn`` or ``consumable``, and their weight and cost totals.

    Totals are computed by PostgreSQL, each in one query: an entry counts
    ``weight_grams x quantity`` grams and ``price_cents x quantity`` cents;
    an item without weight counts 0 and is counted in ``unweighed_count``;
    every unit of a worn entry is worn; ``total = base + worn + consumable``;
    ``pack = total - worn``; ``unit_count`` is the number of units.

    Writers of one setup's entries (``add_item``, ``remove_item``,
    ``set_classification``, ``replace_items``) lock the setup's row first, so
    they never interleave; each of them, and ``rename``, moves the setup's
    ``updated_at``. Deleting an item removes it from every setup (and does
    not move their ``updated_at``).
    """

    def __init__(self, executor: AsyncExecutor) -> None:
        self._x = executor

    async def create(self, *, name: str) -> Setup:
        """A new, empty setup (names need not be unique)."""
        row = await self._x.first(q.create(name))
        return q.to_setup(row, name)

    async def get(self, setup_id: int) -> SetupDetail:
        """The setup with its entries (item data and classification, ordered by
        category name, then item name) and its totals with the per-category
        breakdown, read in one query (NotFoundError if there is no such setup)."""
        rows = await self._x.read.all(q.detail(setup_id))
        return q.to_detail(rows, setup_id)

    async def list(
        self, *, limit: int = 50, cursor: str | None = None, include_total: bool = False
    ) -> SetupPage:
        """A page of setups by name, each with its totals (without the per-category
        breakdown): one query per page, ``include_total`` (the number of setups)
        included. ``next_cursor`` of a page asks for the next one; ValidationError
        for a cursor of another listing."""
        request = pages.paging(
            "setups", status=None, limit=limit, cursor=cursor, include_total=include_total
        )
        rows = await self._x.read.all(pages.setups_page(request))
        return pages.to_setup_page(rows, request)

    async def totals(self, setup_id: int) -> SetupTotals:
        """The setup's totals and their per-category breakdown (ordered by
        category name), in one query (NotFoundError if there is no such setup)."""
        rows = await self._x.read.all(t.setup_totals(setup_id))
        return t.to_totals(rows, setup_id)

    async def rename(self, setup_id: int, *, name: str) -> Setup:
        """Give the setup a new name (NotFoundError if there is no such setup)."""
        row = await self._x.first(q.rename(setup_id, name))
        return q.to_setup(row, setup_id)

    async def delete(self, setup_id: int) -> None:
        """Delete the setup and its entries (the items stay in the collection;
        NotFoundError if there is no such setup)."""
        count = await self._x.rowcount(q.delete(setup_id))
        q.deleted(count, setup_id)

    async def add_item(self, setup_id: int, item_id: int, **entry: Unpack[NewEntry]) -> SetupEntry:
        """Put a collection item in the setup, with the entry's fields
        (:class:`~gearbox_db.shapes.NewEntry`: ``classification="base"`` unless given).

        NotFoundError if there is no such setup; InvalidReferenceError if
        there is no such item; ConflictError if the item is already in the
        setup (constraint ``uq_setup_items_setup_id_item_id``).
        """
        statement = q.add_item(setup_id, item_id, **entry)
        async with self._x.atomic() as x:
            q.to_setup_id(await x.scalar(q.lock(setup_id)), setup_id)
            return q.entry_changed(await x.first(statement, last=True), setup_id, item_id)

    async def remove_item(self, setup_id: int, item_id: int) -> None:
        """Take an item out of the setup (the item stays in the collection).

        NotFoundError if there is no such setup, or the item is not in it.
        """
        statement = q.remove_item(setup_id, item_id)
        async with self._x.atomic() as x:
            q.to_setup_id(await x.scalar(q.lock(setup_id)), setup_id)
            q.removed(await x.scalar(statement, last=True), setup_id, item_id)

    async def set_classification(
        self, setup_id: int, item_id: int, **changes: Unpack[EntryChanges]
    ) -> SetupEntry:
        """Classify an item of the setup as ``base``, ``worn`` or ``consumable``
        (and change any other field of :class:`~gearbox_db.shapes.EntryChanges`).

        NotFoundError if there is no such setup, or the item is not in it.
        """
        statement = q.set_classification(setup_id, item_id, **changes)
        async with self._x.atomic() as x:
            q.to_setup_id(await x.scalar(q.lock(setup_id)), setup_id)
            return q.entry_changed(await x.first(statement, last=True), setup_id, item_id)

    async def replace_items(self, setup_id: int, entries: q.Entries) -> SetupDetail:
        """Make ``entries`` the setup's whole item list, atomically; returns the
        setup as :meth:`get` does.

        ``entries`` is ``{item_id: classification}`` or a sequence of
        ``(item_id, classification)`` pairs (an empty one empties the setup).
        An item named twice is a ValidationError (before any I/O); an unknown
        item is an InvalidReferenceError and changes nothing; NotFoundError
        if there is no such setup. Concurrent replacements of one setup run
        one after the other: the result is one of the lists, never a mix.
        """
        item_ids, classifications = q.validate_entries(entries)
        insert = q.insert_entries(setup_id, item_ids, classifications)
        async with self._x.atomic() as x:
            q.to_setup_id(await x.scalar(q.touch(setup_id)), setup_id)
            writes = [q.clear(setup_id), *([insert] if item_ids else [])]
            *_, detail = await x.batch(*writes, q.detail(setup_id), last=True)
            return q.to_detail(detail.rows, setup_id)
