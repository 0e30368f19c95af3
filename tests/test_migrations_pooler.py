"""Migrating through a transaction pooler (PgBouncer, transaction mode): a clear refusal.

The migration's session advisory lock and settings must outlive its
transactions, which a transaction pooler does not guarantee: ``upgrade``
checks that first and refuses in one line, before applying anything. Needs
the ``pgbouncer`` binary and a test server reachable over TCP; skipped
otherwise.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from gearbox_db import cli, migrations
from gearbox_db.migrations import LOCK_KEY


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _config(directory: Path, url: str, port: int) -> Path:
    params = conninfo_to_dict(url)
    user, dbname = params.get("user") or "postgres", params["dbname"]
    (directory / "users.txt").write_text(f'"{user}" ""\n')
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"{dbname} = host={params['host']} port={params.get('port', 5432)} dbname={dbname}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {directory / 'users.txt'}\n"
        "pool_mode = transaction\nserver_round_robin = 1\ndefault_pool_size = 4\n"
    )
    for path in (directory, directory / "users.txt", ini):
        path.chmod(0o755 if path.is_dir() else 0o644)  # pgbouncer may run as nobody
    return ini


@pytest.fixture
def pooled_url(gearbox_empty_database_url: str, tmp_path: Path) -> Iterator[str]:
    """The test database through a PgBouncer in transaction mode."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    host = str(conninfo_to_dict(gearbox_empty_database_url).get("host") or "/")
    if not Path(binary).exists() or host.startswith("/"):
        pytest.skip("needs the pgbouncer binary and a test server over TCP")
    port = _free_port()
    as_user = ["-u", "nobody"] if os.geteuid() == 0 else []  # pgbouncer refuses root
    process = subprocess.Popen(
        [binary, *as_user, str(_config(tmp_path, gearbox_empty_database_url, port))],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    params = conninfo_to_dict(gearbox_empty_database_url)
    url = f"postgresql://{params.get('user') or 'postgres'}@127.0.0.1:{port}/{params['dbname']}"
    deadline = time.monotonic() + 30
    try:
        while True:  # until it accepts connections
            try:
                psycopg.connect(url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "pgbouncer did not start"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _two_server_connections(url: str) -> None:
    """Make the pool hold two server connections: transactions then alternate between them."""
    first, second = psycopg.connect(url), psycopg.connect(url)
    with first, second:
        pids = {conn.execute("SELECT pg_backend_pid()").fetchone() for conn in (first, second)}
        assert len(pids) == 2
        first.commit()
        second.commit()


@pytest.mark.slow
def test_upgrade_through_a_transaction_pooler_refuses_in_one_line_and_applies_nothing(
    pooled_url: str, gearbox_empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _two_server_connections(pooled_url)
    assert cli.main(["upgrade", "--database-url", pooled_url]) == 1
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("gearbox-db: error: ")
    assert "migrate over a direct connection" in error
    direct = gearbox_empty_database_url
    assert migrations.current(direct) == ()  # nothing applied
    with psycopg.connect(direct) as conn:  # and no lock left behind on a pooled session
        held = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (LOCK_KEY & 0xFFFFFFFF,),
        ).fetchone()
        assert held == (0,)
    migrations.upgrade(direct)  # over a direct connection it works
    assert migrations.current(direct) == (migrations.head(),)
