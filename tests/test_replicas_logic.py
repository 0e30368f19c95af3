"""The pure part of read replicas (issue 14): positions, tokens, health and the choice.

No server here (``tests/test_replicas_sql.py`` checks the positions against
PostgreSQL's ``pg_lsn``): a clock the test moves by hand, hypothesis for the
input spaces.
"""

from __future__ import annotations

import re

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from gearbox_db._replicas import (
    Lsn,
    ReplicaHealth,
    ReplicaPolicy,
    decode_token,
    encode_token,
)
from gearbox_db.errors import ValidationError
from tests.stateful import completed_runs

positions = st.integers(0, 2**64 - 1).map(Lsn)
hex_part = st.text("0123456789abcdefABCDEF", min_size=1, max_size=8)


@attrs.define
class Clock:
    """Monotonic seconds the test moves by hand."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


# -- positions --------------------------------------------------------------------


@given(positions)
def test_a_position_prints_and_parses_back(position: Lsn) -> None:
    assert Lsn.parse(str(position)) == position


@given(hex_part, hex_part)
def test_printing_a_parsed_position_is_canonical(high: str, low: str) -> None:
    text = f"{high}/{low}"
    printed = str(Lsn.parse(text))
    assert printed == f"{int(high, 16):X}/{int(low, 16):X}"  # upper case, no leading zeros
    assert Lsn.parse(printed) == Lsn.parse(text)


@given(positions, positions)
def test_positions_compare_as_their_offsets(a: Lsn, b: Lsn) -> None:
    assert (a < b) == (a.value < b.value)
    assert (a == b) == (a.value == b.value)


@pytest.mark.parametrize(
    "text",
    ["", "16", "16/", "/B374D848", "123456789/0", "0/123456789", " 0/0", "0/0 ", "0x1/0",
     "+1/0", "1/-0", "g/0", "0/0/0", "٣/0", 16, None],
)  # fmt: skip
def test_anything_else_is_not_a_position(text: object) -> None:
    with pytest.raises(ValidationError, match="not a WAL position"):
        Lsn.parse(text)


def test_a_position_is_64_bits() -> None:
    assert str(Lsn(2**64 - 1)) == "FFFFFFFF/FFFFFFFF"
    for value in (-1, 2**64):
        with pytest.raises(ValidationError):
            Lsn(value)


# -- tokens ------------------------------------------------------------------------


@given(positions)
def test_a_token_gives_back_its_position(position: Lsn) -> None:
    token = encode_token(position)
    assert token.isascii()
    assert all(c.isalnum() or c == "." for c in token)
    assert decode_token(token) == position


@given(positions, st.data())
def test_a_damaged_token_is_refused(position: Lsn, data: st.DataObject) -> None:
    token = encode_token(position)
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.characters(codec="utf-8").filter(lambda c: c != token[index]))
    damaged = token[:index] + replacement + token[index + 1 :]
    if not re.fullmatch(r"rw1\.[0-9a-f]{16}", damaged):
        with pytest.raises(ValidationError, match=r"^invalid read-your-writes token") as caught:
            decode_token(damaged)
        assert damaged not in str(caught.value)
    else:  # a hex digit changed for another: a valid token of another position
        decoded = decode_token(damaged)
        assert decoded != position
        assert encode_token(decoded) == damaged


@pytest.mark.parametrize("token", ["", "rw1.", "rw1." + "0" * 15, "rw1." + "0" * 17,
                                   "rw2." + "0" * 16, "RW1." + "0" * 16, "rw1." + "A" * 16,
                                   b"rw1.0000000000000000", None, 3])  # fmt: skip
def test_malformed_tokens_are_refused(token: object) -> None:
    with pytest.raises(ValidationError, match="invalid read-your-writes token"):
        decode_token(token)


# -- health and choice ---------------------------------------------------------------


def test_a_replica_never_probed_is_not_chosen_and_is_due() -> None:
    health = ReplicaHealth(2, clock=Clock())
    assert health.choose() is None
    assert health.due() == [0, 1]


def test_reads_go_round_robin_among_usable_replicas() -> None:
    clock = Clock()
    health = ReplicaHealth(3, clock=clock)
    for index in range(3):
        health.replayed(index, Lsn(100))
    assert [health.choose() for _ in range(6)] == [0, 1, 2, 0, 1, 2]
    health.failed(1)
    assert [health.choose() for _ in range(4)] == [0, 2, 0, 2]


def test_a_read_of_a_position_goes_only_to_replicas_that_replayed_it() -> None:
    health = ReplicaHealth(2, clock=Clock())
    health.replayed(0, Lsn(100))
    health.replayed(1, Lsn(200))
    assert {health.choose(Lsn(150)) for _ in range(4)} == {1}
    assert health.choose(Lsn(201)) is None  # the primary
    assert health.choose(Lsn(100)) is not None


def test_a_failed_replica_is_retried_after_a_doubling_capped_backoff() -> None:
    clock = Clock()
    policy = ReplicaPolicy(retry_after=1.0, max_retry_after=4.0)
    health = ReplicaHealth(1, policy, clock=clock)
    health.replayed(0, Lsn(1))
    waits = []
    for _ in range(5):
        health.failed(0)
        start = clock.now
        while 0 not in health.due():
            assert health.choose() is None  # skipped while down, even once due
            clock.now += 0.25
        waits.append(clock.now - start)
    assert waits == [1.0, 2.0, 4.0, 4.0, 4.0]
    health.replayed(0, Lsn(1))  # the retry's probe succeeded
    assert health.choose() == 0
    health.failed(0)
    clock.now += 1.0
    assert health.due() == [0]  # back to the first wait


def test_lag_is_measured_against_the_primary_not_the_last_commit() -> None:
    clock = Clock()
    health = ReplicaHealth(1, ReplicaPolicy(max_replica_lag=10), clock=clock)
    health.primary_at(Lsn(100))
    health.replayed(0, Lsn(100))
    clock.now += 3600  # an hour without writes: a caught-up replica does not lag
    health.primary_at(Lsn(100))
    health.replayed(0, Lsn(100))
    assert health.snapshot()[0] == (False, Lsn(100), 0.0)
    health.primary_at(Lsn(200))  # a write; the replica has not replayed it yet
    clock.now += 2
    health.replayed(0, Lsn(100))
    assert health.snapshot()[0][2] == 2.0
    assert health.choose() == 0
    clock.now += 9
    health.replayed(0, Lsn(150))
    assert health.snapshot()[0][2] == 11.0
    assert health.choose() is None
    health.replayed(0, Lsn(200))
    assert health.choose() == 0


def test_old_samples_are_pruned_without_hiding_a_lag() -> None:
    clock = Clock()
    health = ReplicaHealth(1, ReplicaPolicy(max_replica_lag=10, sample_spacing=0), clock=clock)
    for step in range(1, 1001):
        health.primary_at(Lsn(step))
        clock.now += 1
    assert len(health._samples) <= 12
    health.replayed(0, Lsn(1))  # 999 s behind
    assert health.snapshot()[0][2] > 10
    assert health.choose() is None


# -- the choice rules, against a model -------------------------------------------


class HealthMachine(RuleBasedStateMachine):
    """Random probes, failures, writes and clock steps; every choice checked against a model."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.policy = ReplicaPolicy(max_replica_lag=5, retry_after=1, max_retry_after=8)
        self.health = ReplicaHealth(3, self.policy, clock=self.clock)
        self.primary = 0
        self.writes: list[tuple[float, int]] = []  # (time, position) of the primary
        self.model: list[dict[str, float | int | bool | None]] = [
            {"down": False, "replay": None, "lag": 0.0} for _ in range(3)
        ]

    @rule(amount=st.integers(1, 1000))
    def write(self, amount: int) -> None:
        self.primary += amount
        self.health.primary_at(Lsn(self.primary))
        self.writes.append((self.clock.now, self.primary))

    @rule(seconds=st.sampled_from([0.01, 0.5, 1, 3, 7]))
    def tick(self, seconds: float) -> None:
        self.clock.now += seconds

    @rule(index=st.integers(0, 2), back=st.integers(0, 3000))
    def probe(self, index: int, back: int) -> None:
        replay = max(0, self.primary - back)
        self.health.replayed(index, Lsn(replay))
        first = next((t for t, p in self.writes if p > replay), self.clock.now)
        lag = self.clock.now - first
        self.model[index] = {"down": False, "replay": replay, "lag": lag}
        measured = self.health.snapshot()[index][2]
        if lag <= self.policy.max_replica_lag:  # merged samples: at most one spacing longer
            assert lag - 1e-9 <= measured <= lag + self.policy.sample_spacing + 1e-9
        else:  # pruned samples: shorter maybe, but still past the limit
            assert measured > self.policy.max_replica_lag

    @rule(index=st.integers(0, 2))
    def fail(self, index: int) -> None:
        self.health.failed(index)
        self.model[index]["down"] = True

    def _usable(self, index: int, required: int | None) -> bool:
        state = self.model[index]
        replay, lag = state["replay"], state["lag"]
        if state["down"] or replay is None:
            return False
        assert isinstance(replay, int)
        assert isinstance(lag, float)
        # The samples merge and prune only towards a longer lag: a replica the
        # model finds lagging is always refused; one within the limit may be too.
        if lag > self.policy.max_replica_lag:
            return False
        return required is None or replay >= required

    @rule(back=st.none() | st.integers(0, 3000))
    def choose(self, back: int | None) -> None:
        required = None if back is None else max(0, self.primary - back)
        allowed = {i for i in range(3) if self._usable(i, required)}
        lsn = None if required is None else Lsn(required)
        chosen = self.health.choose(lsn)
        if chosen is None:
            assert not allowed or all(not self.health.usable(i, lsn) for i in allowed)
        else:
            assert chosen in allowed

    @rule(back=st.none() | st.integers(0, 3000))
    def round_robin(self, back: int | None) -> None:
        lsn = None if back is None else Lsn(max(0, self.primary - back))
        usable = [i for i in range(3) if self.health.usable(i, lsn)]
        picks = [self.health.choose(lsn) for _ in range(2 * len(usable))]
        if usable:
            assert sorted(p for p in picks if p is not None) == sorted(usable * 2)
        else:
            assert picks == []

    @invariant()
    def due_covers_the_unknown_and_the_retries(self) -> None:
        due = set(self.health.due())
        for index, state in enumerate(self.model):
            if state["replay"] is None and not state["down"]:
                assert index in due


def test_the_choice_follows_the_rules() -> None:
    assert completed_runs(HealthMachine) > 0


@given(st.lists(st.booleans(), min_size=1, max_size=6), st.integers(1, 20))
def test_round_robin_is_fair(usable: list[bool], rounds: int) -> None:
    assume(any(usable))
    health = ReplicaHealth(len(usable), clock=Clock())
    for index, ok in enumerate(usable):
        if ok:
            health.replayed(index, Lsn(0))
        else:
            health.failed(index)
    picks = [health.choose() for _ in range(rounds * sum(usable))]
    assert all(picks.count(i) == rounds for i, ok in enumerate(usable) if ok)
