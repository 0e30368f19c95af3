"""The items repository (async source of the generated sync one)."""

from __future__ import annotations

from gearbox_db._async.executor import AsyncExecutor


class AsyncItemRepository:
    """Placeholder: filled in by the items work."""

    def __init__(self, executor: AsyncExecutor) -> None:
        self._x = executor
