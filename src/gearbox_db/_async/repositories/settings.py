"""The settings repository."""

from __future__ import annotations

from gearbox_db._async.executor import AsyncExecutor
from gearbox_db._queries import settings as q


class AsyncSettingRepository:
    """Key/value preferences (``weightUnit``, ``currency``, ...)."""

    def __init__(self, executor: AsyncExecutor) -> None:
        self._x = executor

    async def get(self, key: str) -> str:
        """The value of ``key`` (NotFoundError if it is not set)."""
        value = await self._x.read.scalar(q.get(key))
        return q.to_value(value, key)

    async def get_all(self) -> dict[str, str]:
        """Every setting, as a dict."""
        rows = await self._x.read.all(q.get_all())
        return q.to_dict(rows)

    async def set(self, key: str, value: str) -> None:
        """Set ``key`` to ``value`` (insert or overwrite)."""
        await self._x.rowcount(q.upsert(key, value))

    async def delete(self, key: str) -> None:
        """Delete ``key`` (NotFoundError if it is not set)."""
        count = await self._x.rowcount(q.delete(key))
        q.deleted(count, key)
