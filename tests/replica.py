"""The streaming-standby fixtures of the read-replica tests (issue 14).

``gearbox_standby`` (function) is a hot standby of the run's server
(``gearbox_server``), streaming and replaying when the test starts and reset
to that after it (started again if the test stopped it, replay resumed if it
paused it). One standby serves the whole run (made by
``_gearbox_standby_session`` in well under a second on the embedded server):
a database the test creates on the primary (``gearbox_database_url``)
reaches it by replication; ``standby.wait_for_replay()`` then
``standby.url_of(gearbox_database_url)`` to read it there.

Skipped, saying why, where the server refuses replication (the machine's
PostgreSQL 15 without a ``replication`` line in its ``pg_hba.conf``) or its
binaries are not on this machine. See :mod:`gearbox_db.testing._replica`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gearbox_db.testing import TestServer
from gearbox_db.testing._replica import Standby, StandbyUnavailableError, make_standby

__all__ = ["_gearbox_standby_session", "gearbox_standby", "standby_or_skip"]


def standby_or_skip(server: TestServer, base: Path | None = None) -> Standby:
    """A new streaming standby of ``server`` (the caller removes it), or the test skips."""
    try:
        return make_standby(server, base)
    except StandbyUnavailableError as exc:
        pytest.skip(f"no streaming standby of the test server: {exc.cause}")


@pytest.fixture(scope="session")
def _gearbox_standby_session(gearbox_server: TestServer) -> Iterator[Standby]:
    """The run's standby, removed at the end of the run."""
    standby = standby_or_skip(gearbox_server)
    try:
        yield standby
    finally:
        standby.remove()


def _ready(standby: Standby) -> None:
    if not standby.is_running():
        standby.start()
    standby.resume_replay()
    standby.wait_streaming()


@pytest.fixture
def gearbox_standby(_gearbox_standby_session: Standby) -> Iterator[Standby]:
    """The run's standby, running and replaying (and so again after the test)."""
    _ready(_gearbox_standby_session)
    yield _gearbox_standby_session
    _ready(_gearbox_standby_session)
