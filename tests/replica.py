"""The streaming-standby fixtures of the read-replica tests (issue 14).

``gearbox_standby`` (function) is a hot standby of the run's server
(``gearbox_server``), streaming and replaying when the test starts and reset
to that after it (started again if the test stopped it, replay resumed if it
paused it). One standby serves the whole run (made by
``_gearbox_standby_session`` in well under a second on the embedded server):
a database the test creates on the primary (``gearbox_database_url``)
reaches it by replication; ``standby.wait_for_replay()`` then
``standby.url_of(gearbox_database_url)`` to read it there.

``standby_or_skip(server, base=None)`` makes another standby (the caller
removes it); ``pgbouncer_for(standby, dbname)`` puts a transaction-pooling
PgBouncer in front of one and yields the URL of ``dbname`` through it.

Skipped, saying why, where the server refuses replication (the machine's
PostgreSQL 15 without a ``replication`` line in its ``pg_hba.conf``) or its
binaries are not on this machine. See :mod:`gearbox_db.testing._replica`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from gearbox_db.testing import TestServer
from gearbox_db.testing._replica import (
    Standby,
    StandbyUnavailableError,
    _free_port,
    make_standby,
)

__all__ = ["_gearbox_standby_session", "gearbox_standby", "pgbouncer_for", "standby_or_skip"]


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


_PGBOUNCER_CONFIG = """
[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {auth_file}
pool_mode = transaction
default_pool_size = 4
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options
logfile = {log}
"""


@contextmanager
def pgbouncer_for(standby: Standby, dbname: str) -> Iterator[str]:
    """URL of database ``dbname`` of the standby through a transaction-pooling PgBouncer.

    Debian's ``pgbouncer`` (skips without it), on a free port of 127.0.0.1,
    run as the standby's account (PgBouncer refuses root; the embedded
    standby's socket admits that account alone), so it reaches a standby on a
    Unix socket too. Clients authenticate with a random password (SCRAM): the
    embedded server stays closed to other local users.
    """
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        pytest.skip("pgbouncer is not installed (Debian: apt-get install -y pgbouncer)")
    params = conninfo_to_dict(standby.conninfo)
    user = str(params.get("user") or "postgres")
    password = str(params.get("password") or secrets.token_urlsafe(16))
    directory = Path(tempfile.mkdtemp(prefix="gearbox-pgbouncer-", dir=standby.home.parent))
    try:
        (directory / "userlist.txt").write_text(f'"{user}" "{password}"\n')
        process, listen = _start_pgbouncer(binary, directory, standby, params)
        try:
            yield f"postgresql://{user}:{password}@127.0.0.1:{listen}/{dbname}"
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _start_pgbouncer(
    binary: str, directory: Path, standby: Standby, params: Mapping[str, object]
) -> tuple[subprocess.Popen[bytes], int]:
    """A running PgBouncer and its port (another port if the first was taken meanwhile)."""
    config, log = directory / "pgbouncer.ini", directory / "log"
    account = ["-u", standby.runner.name] if os.geteuid() == 0 else []
    for _ in range(3):
        listen = _free_port()
        config.write_text(
            _PGBOUNCER_CONFIG.format(
                host=params["host"], port=params["port"], listen=listen,
                auth_file=directory / "userlist.txt", log=log,
            )
        )  # fmt: skip
        for path in directory.iterdir() if standby.runner.switch else ():
            os.chown(path, standby.runner.uid, standby.runner.gid)
        if standby.runner.switch:
            os.chown(directory, standby.runner.uid, standby.runner.gid)
        process = subprocess.Popen([binary, *account, str(config)], stderr=subprocess.DEVNULL)
        if _listening(listen, process):
            return process, listen
    detail = log.read_text()[-2000:] if log.exists() else "no log"
    raise RuntimeError(f"pgbouncer did not start: {detail}")


def _listening(port: int, process: subprocess.Popen[bytes]) -> bool:
    """Whether PgBouncer listens on ``port``; False when it exited (the port was taken)."""
    deadline = time.monotonic() + 30
    while process.poll() is None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        if time.monotonic() > deadline:
            process.terminate()
            process.wait(timeout=30)
            return False
        time.sleep(0.02)  # waiting for a daemon to listen, up to a deadline
    return False
