"""Running a hypothesis state machine so that the test says what it checked."""

from __future__ import annotations

from hypothesis import settings as Settings  # noqa: N812 - the class, not the decorator use
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

__all__ = ["completed_runs"]


def completed_runs(machine: type[RuleBasedStateMachine], settings: Settings | None = None) -> int:
    """Run ``machine`` as a test (a broken rule or invariant raises); how many of its
    examples ran to the end, every invariant checked after every step.

    A test asserts the count is positive: a machine whose preconditions or
    ``assume`` reject every example would otherwise pass without checking anything.
    """
    completed = 0

    def teardown(self: RuleBasedStateMachine) -> None:
        nonlocal completed
        machine.teardown(self)
        completed += 1

    counted = type(f"Counted{machine.__name__}", (machine,), {"teardown": teardown})
    run_state_machine_as_test(counted, settings=settings)
    return completed
