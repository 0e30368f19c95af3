"""Read replicas, the pure part (issue 14): WAL positions, the read-your-writes token, health.

No I/O here. The executor asks the server, then tells this module what it saw:

- :class:`Lsn`: a WAL position (``pg_lsn``, printed ``16/B374D848``), parsed,
  printed and compared exactly as PostgreSQL does;
- :func:`encode_token` / :func:`decode_token`: the position a client must
  read at least, as an opaque token a web API returns or sets in a cookie, so
  that the next request, in any process, still sees the write;
- :class:`ReplicaHealth`: which replica a read may go to. A replica that
  failed is skipped and retried after a backoff (doubling, capped); one that
  lags more than ``max_replica_lag`` seconds is skipped; among the others, a
  read that must see position ``P`` goes round robin to one whose last known
  replay position is ``>= P``; none left: the primary (``None``).

**Lag** is measured against the primary's WAL, never as ``now() -
pg_last_xact_replay_timestamp()``: that timestamp is the last *replayed
commit's*, so on a primary with no writes for an hour a fully caught-up
replica would "lag" an hour, and the first write after the quiet hour would
make every replica look an hour behind until it replayed it. Instead the
executor records samples of the primary's position (:meth:`ReplicaHealth.
primary_at`: after each write, and on each health probe); a replica that
has replayed position ``R`` when probed at ``t`` lags ``t - t0``, where ``t0``
is when the primary was first seen past ``R`` (0 when it never was). The
samples are coalesced (``sample_spacing``: merged samples keep the earlier
time) and pruned past ``max_replica_lag`` (keeping the newest older sample):
both can only lengthen a lag or keep it past the limit, never judge a stale
replica fresh.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

import attrs

from gearbox_db.errors import ValidationError

__all__ = [
    "DEFAULT_MAX_REPLICA_LAG",
    "Lsn",
    "ReplicaHealth",
    "ReplicaPolicy",
    "decode_token",
    "encode_token",
    "later",
]

#: Default ``max_replica_lag`` (seconds): see docs/scaling.md.
DEFAULT_MAX_REPLICA_LAG: Final = 10.0
_LSN: Final = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")
_TOKEN_PREFIX: Final = "rw1."  # noqa: S105 - a format tag, not a secret
_TOKEN: Final = re.compile(r"rw1\.([0-9a-f]{16})")
_MAX: Final = (1 << 64) - 1


@attrs.frozen(order=True)
class Lsn:
    """A WAL position: a 64-bit byte offset, printed ``<high 32 bits>/<low 32 bits>`` in hex."""

    value: int = attrs.field()

    @value.validator
    def _check(self, _: object, value: int) -> None:
        if not 0 <= value <= _MAX:
            raise ValidationError(f"a WAL position is 0 to 2**64 - 1, got {value}")

    @classmethod
    def parse(cls, text: object) -> Lsn:
        """The position PostgreSQL prints as ``text`` (``'16/B374D848'``, any case)."""
        if not isinstance(text, str) or (match := _LSN.fullmatch(text)) is None:
            raise ValidationError(f"not a WAL position: {str(text)[:40]!r}")
        return cls((int(match.group(1), 16) << 32) | int(match.group(2), 16))

    def __str__(self) -> str:
        return f"{self.value >> 32:X}/{self.value & 0xFFFFFFFF:X}"


def later(a: Lsn | None, b: Lsn | None) -> Lsn | None:
    """The later of two positions (``None``: no position)."""
    if a is None:
        return b
    return a if b is None or a >= b else b


def encode_token(position: Lsn) -> str:
    """The read-your-writes token of ``position``: ASCII, URL- and cookie-safe."""
    return f"{_TOKEN_PREFIX}{position.value:016x}"


def decode_token(token: object) -> Lsn:
    """The position of a token made by :func:`encode_token`.

    Anything else is a :class:`ValidationError` (the token comes from a
    client: its text is not echoed whole). A token names a position only, so
    a forged one can at most send that client's reads to the primary.
    """
    if not isinstance(token, str):
        raise ValidationError(f"invalid read-your-writes token: a {type(token).__name__}")
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise ValidationError("invalid read-your-writes token: not a token of this library")
    return Lsn(int(match.group(1), 16))


@attrs.frozen
class ReplicaPolicy:
    """How replicas are judged (seconds throughout)."""

    #: A replica lagging more than this is skipped.
    max_replica_lag: float = DEFAULT_MAX_REPLICA_LAG
    #: First wait before a failed replica is tried again; doubles per failure ...
    retry_after: float = 1.0
    #: ... up to this.
    max_retry_after: float = 30.0
    #: A healthy replica is probed again (replay position, lag) after this.
    probe_interval: float = 1.0
    #: Samples of the primary's position closer than this are merged.
    sample_spacing: float = 0.05


@attrs.define
class _Replica:
    replay: Lsn | None = None
    lag: float = 0.0
    probed_at: float | None = None
    failures: int = 0
    retry_at: float | None = None  # set while down

    @property
    def down(self) -> bool:
        return self.retry_at is not None


class ReplicaHealth:
    """What is known of ``count`` replicas (numbered from 0), and the choice of one for a read.

    Thread-safe (one lock, held for microseconds). A replica never probed is
    not chosen: :meth:`due` lists it first.
    """

    def __init__(
        self,
        count: int,
        policy: ReplicaPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or ReplicaPolicy()
        self._clock = clock
        self._replicas = [_Replica() for _ in range(count)]
        self._samples: deque[tuple[float, Lsn]] = deque()
        self._last = -1  # index of the replica chosen last
        self._lock = threading.Lock()

    def primary_at(self, position: Lsn) -> None:
        """Record that the primary has reached ``position`` now (after a write, on a probe)."""
        now = self._clock()
        with self._lock:
            samples = self._samples
            if samples and position <= samples[-1][1]:
                return
            if samples and now - samples[-1][0] < self.policy.sample_spacing:
                # Merged into the earlier sample: its time, the newer position (a longer lag).
                samples[-1] = (samples[-1][0], position)
            else:
                samples.append((now, position))
            horizon = now - self.policy.max_replica_lag
            # Keep the newest sample older than the horizon: what tells a replica missing
            # it that it lags more than max_replica_lag.
            while len(samples) > 1 and samples[1][0] < horizon:
                samples.popleft()

    def replayed(self, index: int, position: Lsn) -> None:
        """A probe of replica ``index`` succeeded: it has replayed ``position`` (now)."""
        now = self._clock()
        with self._lock:
            replica = self._replicas[index]
            replica.replay, replica.probed_at = position, now
            replica.failures, replica.retry_at = 0, None
            replica.lag = now - self._first_past(position, now)

    def _first_past(self, position: Lsn, now: float) -> float:
        """When the primary was first seen past ``position`` (``now`` if never)."""
        for seen_at, primary in self._samples:
            if primary > position:
                return seen_at
        return now

    def failed(self, index: int) -> None:
        """Replica ``index`` could not be reached or answered with an error: skip it a while."""
        now = self._clock()
        with self._lock:
            replica = self._replicas[index]
            replica.failures += 1
            wait = self.policy.retry_after * 2 ** min(replica.failures - 1, 32)
            replica.retry_at = now + min(wait, self.policy.max_retry_after)

    def due(self) -> list[int]:
        """Replicas to probe now: never probed, down past their backoff, or probed long ago."""
        now = self._clock()
        with self._lock:
            return [i for i, replica in enumerate(self._replicas) if self._due(replica, now)]

    def _due(self, replica: _Replica, now: float) -> bool:
        if replica.retry_at is not None:
            return now >= replica.retry_at
        if replica.probed_at is None:
            return True
        return now - replica.probed_at >= self.policy.probe_interval

    def usable(self, index: int, required: Lsn | None = None) -> bool:
        """Whether a read that must see ``required`` may go to replica ``index``."""
        with self._lock:
            return self._usable(index, required)

    def _usable(self, index: int, required: Lsn | None) -> bool:
        replica = self._replicas[index]
        if replica.down or replica.replay is None:
            return False
        if replica.lag > self.policy.max_replica_lag:
            return False
        return required is None or replica.replay >= required

    def choose(self, required: Lsn | None = None) -> int | None:
        """The replica for the next read (round robin among the usable ones); None: the primary."""
        with self._lock:
            count = len(self._replicas)
            for step in range(1, count + 1):
                index = (self._last + step) % count
                if self._usable(index, required):
                    self._last = index
                    return index
            return None

    def snapshot(self) -> Sequence[tuple[bool, Lsn | None, float]]:
        """(down, last known replay position, lag in seconds) of each replica (logs, tests)."""
        with self._lock:
            return [(r.down, r.replay, r.lag) for r in self._replicas]
