"""The categories repository."""

from __future__ import annotations

from gearbox_db._async.executor import AsyncExecutor
from gearbox_db._queries import categories as q
from gearbox_db._queries._common import UNSET, Unset
from gearbox_db.records import Category, CategorySummary
from gearbox_db.schema import UNCATEGORIZED


class AsyncCategoryRepository:
    """Categories of the collection. ``Uncategorized`` always exists."""

    def __init__(self, executor: AsyncExecutor) -> None:
        self._x = executor

    async def list(self) -> tuple[CategorySummary, ...]:
        """Every category, by name, with its number of items and their total
        weight and cost (each counting every unit)."""
        rows = await self._x.read.all(q.list_summaries())
        return q.to_summaries(rows)

    async def get(self, category_id: int) -> Category:
        """The category with this id (NotFoundError if none)."""
        row = await self._x.read.first(q.get(category_id))
        return q.to_category(row, category_id)

    async def get_by_name(self, name: str) -> Category:
        """The category with exactly this name (NotFoundError if none)."""
        row = await self._x.read.first(q.get_by_name(name))
        return q.to_category(row, name)

    async def uncategorized(self) -> Category:
        """``Uncategorized``, where items of deleted categories go (its id varies
        between databases: an imported file keeps its own)."""
        return await self.get_by_name(UNCATEGORIZED)

    async def create(self, *, name: str, icon: str = "package") -> Category:
        """A new category (ConflictError if the name is taken; names are case-sensitive)."""
        row = await self._x.first(q.create(name, icon))
        return q.to_category(row, name)

    async def update(
        self, category_id: int, *, name: str | Unset = UNSET, icon: str | Unset = UNSET
    ) -> Category:
        """Change the name and/or icon (``Uncategorized`` keeps its name)."""
        statement = q.update(category_id, name=name, icon=icon)
        async with self._x.atomic() as x:
            locked = await x.first(q.lock(category_id))
            q.guarded(locked, category_id, changing_name=name is not UNSET)
            return q.to_category(await x.first(statement, last=True), category_id)

    async def delete(self, category_id: int) -> None:
        """Delete a category, moving its items, threads and candidates to
        ``Uncategorized`` in the same transaction (``Uncategorized`` itself
        cannot be deleted: InvalidStateError)."""
        async with self._x.atomic() as x:
            q.guarded(await x.first(q.get(category_id)), category_id)  # fail fast, no locks
            for contents in q.lock_contents(category_id):
                await x.all(contents)
            q.guarded(await x.first(q.lock(category_id)), category_id)
            fallback = await x.scalar(q.ensure_uncategorized())
            for statement in q.move_contents(category_id, fallback):
                await x.rowcount(statement)
            await x.rowcount(q.delete(category_id), last=True)
