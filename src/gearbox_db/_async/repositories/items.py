"""The items repository."""

from __future__ import annotations

from typing import Unpack

from gearbox_db._async.executor import AsyncExecutor
from gearbox_db._queries import item_pages as pages
from gearbox_db._queries import items as q
from gearbox_db.records import CollectionTotals, Item, ItemPage, ItemSort
from gearbox_db.shapes import ItemChanges, NewItem


class AsyncItemRepository:
    """Items of the collection: each piece of gear, in one category.

    Every item returned carries the name and icon of its category. Weights
    are grams, prices cents; ``weight_grams`` and ``price_cents`` may be
    ``None`` (unknown).
    """

    def __init__(self, executor: AsyncExecutor) -> None:
        self._x = executor

    async def create(self, **fields: Unpack[NewItem]) -> Item:
        """A new item: ``name`` and ``category_id``, and any of the optional fields
        of :class:`~gearbox_db.shapes.NewItem` (InvalidReferenceError if the category
        does not exist; ValidationError for a blank name, a negative or non-finite
        weight, a negative price, a quantity below 1, or a NUL character in any text)."""
        return q.to_item(await self._x.first(q.create(**fields)), fields["name"])

    async def get(self, item_id: int) -> Item:
        """The item with this id (NotFoundError if none)."""
        return q.to_item(await self._x.read.first(q.get(item_id)), item_id)

    async def list(
        self,
        *,
        category_id: int | None = None,
        search: str | None = None,
        sort: ItemSort = "name",
        descending: bool = False,
        limit: int = 50,
        cursor: str | None = None,
        include_total: bool = False,
    ) -> ItemPage:
        """One page of the collection, at most ``limit`` items (1 to 10,000:
        ``gearbox_db._queries._validate.MAX_LIMIT``; ValidationError otherwise).

        ``category_id`` keeps the items of one category; ``search`` those whose
        name contains it, ignoring case. ``sort`` is ``"name"`` (ignoring case
        first), ``"weight"``, ``"price"`` or ``"created"``; ties go by id, and
        items without a weight or price come last in either direction. Pass the page's
        ``next_cursor`` (``None`` on the last page) as ``cursor`` with the same
        sort, direction and filters to get the next page; a cursor of another
        listing, or a damaged one, is a ValidationError. ``include_total``
        also counts every matching item (``ItemPage.total``).
        """
        request = pages.listing(
            category_id=category_id,
            search=search,
            sort=sort,
            descending=descending,
            limit=limit,
            cursor=cursor,
            include_total=include_total,
        )
        return pages.to_page(await self._x.read.all(pages.bound(request)), request)

    async def update(self, item_id: int, **fields: Unpack[ItemChanges]) -> Item:
        """Change the given fields (:class:`~gearbox_db.shapes.ItemChanges`) and leave
        the others as they are; ``None`` clears an optional field. ``updated_at``
        moves forward. NotFoundError if the item does not exist, InvalidReferenceError
        for an unknown category, ValidationError as for :meth:`create` or when no
        field is given."""
        return q.to_item(await self._x.first(q.update(item_id, **fields)), item_id)

    async def delete(self, item_id: int) -> None:
        """Delete an item (and its entries in setups); NotFoundError if it does not exist."""
        q.deleted(await self._x.rowcount(q.delete(item_id)), item_id)

    async def duplicate(self, item_id: int) -> Item:
        """A copy of the item with every field but a new id and new timestamps
        (NotFoundError if the item does not exist)."""
        return q.to_item(await self._x.first(q.duplicate(item_id)), item_id)

    async def totals(self) -> CollectionTotals:
        """Units, weight and cost of the whole collection (each item counts
        ``quantity`` times), and the number of items without a weight."""
        return q.to_totals(await self._x.read.first(q.totals()))
