"""A PgBouncer in transaction pooling mode in front of the test server, for the plugin tests.

Debian's ``pgbouncer`` binary, started by the fixture on a free 127.0.0.1
port as the ``postgres`` user, with ``* = <the test server>`` so that every
database of the run is reachable through it. The fixture skips, saying why,
where the binary is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from gearbox_db.testing import TestServer

__all__ = ["pgbouncer_url"]

_CONFIG = """
[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = trust
auth_file = {auth_file}
pool_mode = transaction
default_pool_size = 4
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # waiting for a daemon to listen, not for a race


def _command(config: Path) -> list[str]:
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        pytest.skip("pgbouncer is not installed (Debian: apt-get install -y pgbouncer)")
    # PgBouncer refuses to run as root: as root, run it as the postgres user.
    return [binary, *(["-u", "postgres"] if os.geteuid() == 0 else []), str(config)]


@pytest.fixture(scope="session")
def pgbouncer_url(gearbox_server: TestServer) -> Iterator[str]:
    """URL of the test server's ``postgres`` database through a transaction-pooling PgBouncer."""
    params = conninfo_to_dict(gearbox_server.conninfo)
    tcp = params.get("host") and not str(params["host"]).startswith("/") and params.get("port")
    if gearbox_server.data_dir is not None or not tcp:
        pytest.skip(
            "the PgBouncer tests run against an existing server on TCP "
            "(--gearbox-db-url postgresql://postgres@127.0.0.1:5432/postgres)"
        )
    directory = Path(tempfile.mkdtemp(prefix="gearbox-pgbouncer-"))
    directory.chmod(0o755)
    auth_file = directory / "userlist.txt"
    auth_file.write_text(f'"{params.get("user", "postgres")}" ""\n')
    listen = _free_port()
    config = directory / "pgbouncer.ini"
    config.write_text(
        _CONFIG.format(
            host=params.get("host"), port=params["port"], listen=listen, auth_file=auth_file
        )
    )
    for path in (auth_file, config):
        path.chmod(0o644)
    process = subprocess.Popen(_command(config), stderr=subprocess.DEVNULL)
    url = f"postgresql://{params.get('user', 'postgres')}@127.0.0.1:{listen}/postgres"
    try:
        _wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)
