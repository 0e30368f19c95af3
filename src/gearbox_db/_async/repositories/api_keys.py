"""The api_keys repository (async source of the generated sync one)."""

from __future__ import annotations

from gearbox_db._async.executor import AsyncExecutor
from gearbox_db._queries._common import Clock


class AsyncApiKeyRepository:
    """Placeholder: filled in by the accounts work."""

    def __init__(self, executor: AsyncExecutor, clock: Clock | None) -> None:
        self._x = executor
        self._clock = clock
