"""Client-side deadlines: a server that stops answering cannot hold a call forever.

``statement_timeout`` is enforced by the server, so it cannot end a wait for
a server that is stopped (SIGSTOP, a hung host behind a live TCP stack: the
kernel still acknowledges every packet, so keepalives see nothing). A
:class:`Deadline` armed around a statement shuts the connection's socket
down when it expires: the driver's wait ends at once with a connection
error, which the executor reports as :class:`~gearbox_db.errors.UnavailableError`
saying no answer came in time. One daemon thread serves every deadline of
the process (sync and async callers alike); arming and disarming cost a
heap push and a flag under a lock.
"""

from __future__ import annotations

import heapq
import itertools
import os
import select
import socket
import threading
import time

__all__ = ["Deadline", "arm", "readable"]


class Deadline:
    """One armed deadline (see :func:`arm`); ``expired`` once it fired."""

    __slots__ = ("_fd", "active", "at", "expired", "seconds")

    def __init__(self, fd: int, seconds: float) -> None:
        self._fd = fd
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.active = True
        self.expired = False

    def disarm(self) -> None:
        """The statement answered in time: never fire."""
        with _WATCHDOG.lock:
            if self.active:
                self.active = False
                _WATCHDOG.armed -= 1

    def _fire(self) -> None:
        self.active = False
        self.expired = True
        try:
            # A duplicate of the descriptor: shutting the socket down (not
            # closing it) wakes the waiting driver, which still owns the fd.
            with socket.socket(fileno=os.dup(self._fd)) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed: nothing is waiting on it any more


class _Watchdog:
    """The thread that fires expired deadlines, earliest first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._wake = threading.Condition(self.lock)
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self.armed = 0

    def arm(self, fd: int, seconds: float) -> Deadline:
        deadline = Deadline(fd, seconds)
        with self.lock:
            self.armed += 1
            if len(self._heap) > 64 and len(self._heap) > 4 * self.armed:
                # Disarmed deadlines stay in the heap until they reach its top:
                # drop them all now and then, so the heap holds mostly live ones.
                self._heap = [entry for entry in self._heap if entry[2].active]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="gearbox_db-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._wake.notify()
        return deadline

    def _run(self) -> None:
        with self.lock:
            while True:
                heap = self._heap
                while heap and not heap[0][2].active:
                    heapq.heappop(heap)
                if not heap:
                    self._wake.wait()
                    continue
                wait = heap[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                self.armed -= 1
                heapq.heappop(heap)[2]._fire()


_WATCHDOG = _Watchdog()


def _reset_after_fork() -> None:
    """A forked child (a pre-forking web server's worker) has no watchdog thread
    and may have inherited a held lock: it starts afresh."""
    global _WATCHDOG
    _WATCHDOG = _Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def arm(fd: int, seconds: float) -> Deadline:
    """Shut the socket ``fd`` down in ``seconds`` unless disarmed before."""
    return _WATCHDOG.arm(fd, seconds)


def readable(fd: int) -> bool:
    """Whether the socket ``fd`` has something to read (or was closed), without waiting.

    An idle PostgreSQL connection has nothing to read; one the server ended
    (restart, ``pg_terminate_backend``) has its goodbye or the end of the stream.
    """
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])
