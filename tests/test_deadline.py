"""Client-side deadlines (``gearbox_db._deadline``): the watchdog shuts a socket
down when its deadline passes, never after being disarmed, in forked children too."""

from __future__ import annotations

import os
import socket

import pytest

from gearbox_db._deadline import arm, readable


def _waits_for_deadline(seconds: float) -> bool:
    """Block reading a socket nobody writes to: only the deadline can end the wait."""
    mine, other = socket.socketpair()
    with mine, other:
        deadline = arm(mine.fileno(), seconds)
        assert mine.recv(1) == b""  # the shutdown ends the read
        return deadline.expired


def test_an_expired_deadline_ends_a_blocked_read() -> None:
    assert _waits_for_deadline(0.05)


def test_a_disarmed_deadline_never_fires() -> None:
    kept, kept_peer = socket.socketpair()
    with kept, kept_peer:
        early = arm(kept.fileno(), 0.01)
        early.disarm()
        assert _waits_for_deadline(0.2)  # fires well after the first would have
        assert not early.expired
        assert not readable(kept.fileno())  # the disarmed socket was left alone
        kept_peer.sendall(b"x")
        assert kept.recv(1) == b"x"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_deadlines_work_in_a_forked_child() -> None:
    assert _waits_for_deadline(0.01)  # the parent's watchdog thread is running
    pid = os.fork()
    if pid == 0:  # the child: no watchdog thread was inherited
        try:
            os._exit(0 if _waits_for_deadline(0.05) else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
