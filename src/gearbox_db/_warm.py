"""The connections a pool scope keeps between operations, most recently used first.

``psycopg_pool`` costs 14 µs (sync) to 20 µs (async) per checkout and return
on this machine: as much as the whole round trip of a small query on a fast
network. A scope therefore keeps up to ``pool_size`` connections checked out
of the pool between operations and lends them itself, last returned first
(the connection most likely to be warm). It never hides a connection from
someone waiting: while any caller waits in the pool, returned connections go
back to the pool, and a caller about to wait takes a kept one first, both
under one lock (no I/O here; the lock is held for a list operation).
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

__all__ = ["WarmStack"]

C = TypeVar("C")


class WarmStack(Generic[C]):
    """Connections kept out of the pool, handed out last in, first out."""

    __slots__ = ("_capacity", "_items", "_lock", "_waiting")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: list[C] = []
        self._lock = threading.Lock()
        self._waiting = 0

    def take(self) -> C | None:
        """A kept connection; ``None`` means: get one from the pool, then call
        :meth:`stop_waiting` (until then, returned connections go to the pool)."""
        with self._lock:
            if self._items:
                return self._items.pop()
            self._waiting += 1
            return None

    def stop_waiting(self) -> None:
        """The caller that :meth:`take` sent to the pool has its answer."""
        with self._lock:
            self._waiting -= 1

    def keep(self, connection: C) -> bool:
        """Keep ``connection`` for the next operation, unless someone waits in the
        pool or the stack is full (then it goes back to the pool: ``False``)."""
        with self._lock:
            if self._waiting or len(self._items) >= self._capacity:
                return False
            self._items.append(connection)
            return True

    def drain(self) -> list[C]:
        """Every kept connection (for the pool to take back), the stack left empty."""
        with self._lock:
            items, self._items = self._items, []
            return items
