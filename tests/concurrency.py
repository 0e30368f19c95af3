"""Run operations at the same time, for the concurrency tests of both APIs.

The async suite calls :func:`agather` (tasks on one loop, each with its own
pooled connection); the generated sync suite calls :func:`gather` (threads).
Callers synchronise the start with a barrier (``asyncio.Barrier`` becomes
``threading.Barrier`` in the sync suite), never with sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


async def agather(*calls: Callable[[], Awaitable[T]]) -> list[T | BaseException]:
    """Run every call as its own task; results or raised exceptions, in order."""
    return await asyncio.gather(*(call() for call in calls), return_exceptions=True)


def gather(*calls: Callable[[], T]) -> list[T | BaseException]:
    """Run every call in its own thread; results or raised exceptions, in order."""

    def attempt(call: Callable[[], T]) -> T | BaseException:
        try:
            return call()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(attempt, calls))
