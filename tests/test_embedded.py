"""The embedded development PostgreSQL: locked down, one data directory per major version.

The lockdown tests need root (CI runs as root): they show that another local
user (``nobody``) cannot connect, that the server never runs with root's
group, and that no existing directory changes its permissions.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gearbox_db import _embedded_os, embedded
from gearbox_db.errors import ConfigurationError

pytest_plugins = ["pytester"]

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_root = pytest.mark.skipif(
    not IS_ROOT or shutil.which("setpriv") is None,
    reason="needs root and setpriv: runs the server as its service account, connects as nobody",
)
# Speaks just enough of the protocol to tell "refused" from "connected", with the
# standard library alone: run by an interpreter that ``nobody`` can execute.
CONNECT_AS_NOBODY = """
import socket, struct, sys
client = socket.socket(socket.AF_UNIX)
try:
    client.connect(sys.argv[1])
except OSError as exc:
    print("refused:", exc.strerror); sys.exit(3)
body = struct.pack("!I", 196608) + b"user\\0postgres\\0database\\0postgres\\0\\0"
client.sendall(struct.pack("!I", len(body) + 4) + body)
kind, reply = client.recv(1), client.recv(4096)
if kind == b"E":
    print("refused:", reply.decode(errors="replace")); sys.exit(3)
print("connected", kind); sys.exit(0)
"""
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def _nobodys_python() -> str:
    """An interpreter ``nobody`` can run (ours may live under root's private home)."""
    for python in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        probe = subprocess.run([*NOBODY, python, "-c", "pass"], capture_output=True, check=False)
        if probe.returncode == 0:
            return python
    pytest.skip("no Python interpreter that the user nobody may run")


def _as_nobody(socket: Path) -> subprocess.CompletedProcess[str]:
    command = [*NOBODY, _nobodys_python(), "-c", CONNECT_AS_NOBODY, str(socket)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _modes(paths: list[Path]) -> dict[Path, int]:
    return {path: path.stat().st_mode for path in paths if path.exists()}


@pytest.fixture
def base() -> Iterator[Path]:
    """A new directory on tmpfs that the server's account may enter (0755)."""
    directory = Path(tempfile.mkdtemp(prefix="gearbox-db-embedded-test-", dir="/dev/shm"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def long_data_dir(base: Path) -> Iterator[Path]:
    """A data directory whose path (110+ characters) is too long for a socket inside it."""
    data_dir = base / ("d" * 60) / ("e" * 40) / "data"
    assert len(str(data_dir)) >= 110
    yield data_dir
    embedded.stop(data_dir, remove=True)


def _postmaster_groups(data_dir: Path) -> tuple[set[int], set[int]]:
    pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {int(g) for g in status["Gid"].split()}, {int(g) for g in status["Groups"].split()}


@needs_root
def test_another_local_user_cannot_connect(long_data_dir: Path) -> None:
    watched = [*long_data_dir.parents, Path.home(), *_embedded_os.binaries().bin_dir.parents]
    before = _modes(watched)
    server = embedded.start(long_data_dir, keep_running=True)
    assert server.socket_dir != long_data_dir  # the path is too long for the socket
    info = server.socket_dir.stat()
    assert info.st_mode & 0o777 == 0o700
    assert info.st_uid == _embedded_os.account().uid
    socket = server.socket_dir / f".s.PGSQL.{server.port}"
    refused = _as_nobody(socket)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "Permission denied" in refused.stdout
    # Even through an open directory and socket, peer authentication refuses nobody.
    assert socket.stat().st_mode & 0o777 == 0o700
    server.socket_dir.chmod(0o755)
    socket.chmod(0o777)
    try:
        refused = _as_nobody(socket)
    finally:
        server.socket_dir.chmod(0o700)
        socket.chmod(0o700)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "authentication failed" in refused.stdout
    with psycopg.connect(server.url) as connection:
        row = connection.execute("SELECT current_setting('listen_addresses')").fetchone()
    assert row == ("",)  # no TCP at all
    gids, groups = _postmaster_groups(long_data_dir)
    assert 0 not in gids  # never root's group
    assert 0 not in groups
    assert _modes(list(before)) == before  # existing directories kept their modes


@needs_root
def test_root_refuses_a_data_directory_its_account_cannot_reach() -> None:
    private = Path(tempfile.mkdtemp(prefix="gearbox-db-private-", dir="/dev/shm"))
    try:
        with pytest.raises(embedded.EmbeddedUnavailableError, match="cannot enter") as caught:
            embedded.start(private / "data")
        assert str(private) in caught.value.cause
        assert private.stat().st_mode & 0o777 == 0o700
        assert list(private.iterdir()) == []
    finally:
        shutil.rmtree(private)


def test_a_data_directory_of_another_major_version_is_never_opened(base: Path) -> None:
    other = _embedded_os.binaries().major - 2  # e.g. the 0.1 release's 16 under 18
    old = base / "postgres"
    old.mkdir()
    (old / "PG_VERSION").write_text(f"{other}\n")
    (old / "base").mkdir()
    before = sorted(old.rglob("*"))
    with pytest.raises(ConfigurationError, match=f"was made by PostgreSQL {other}") as caught:
        embedded.start(old)
    assert "never opens nor deletes" in str(caught.value)
    assert sorted(old.rglob("*")) == before
    assert not embedded.is_running(old)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    environment.pop(embedded.DATA_DIR_ENV, None)
    environment.update(env)
    command = [sys.executable, "-m", "gearbox_db", *args]
    return subprocess.run(command, capture_output=True, text=True, env=environment, check=False)


def test_status_lists_data_directories_of_other_versions(base: Path) -> None:
    major = _embedded_os.binaries().major
    older, newer = major - 2, major + 1
    for name, version in (("postgres", older), (f"postgres-{newer}", newer)):
        (base / name).mkdir()
        (base / name / "PG_VERSION").write_text(f"{version}\n")
    result = _cli("embedded", "status", env={embedded.HOME_ENV: str(base)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"embedded PostgreSQL at {base / f'postgres-{major}'}: not running"
    assert lines[1].startswith(f"note: {base / 'postgres'} holds a PostgreSQL {older} database")
    newer_dir = base / f"postgres-{newer}"
    assert lines[2].startswith(f"note: {newer_dir} holds a PostgreSQL {newer} database")
    assert "left untouched" in lines[1]
    assert "pg_dump" in lines[1]
    assert (base / "postgres" / "PG_VERSION").exists()


def test_cli_messages_name_the_cause_and_the_cli_options(base: Path) -> None:
    env = {_embedded_os.BIN_DIR_ENV: str(base / "missing"), embedded.HOME_ENV: str(base)}
    status = _cli("embedded", "status", env=env)
    assert status.returncode == 0
    assert status.stdout.startswith("embedded PostgreSQL: unavailable: the PostgreSQL binaries")
    assert "cannot run on this machine" in status.stdout
    upgrade = _cli("upgrade", env=env)
    assert upgrade.returncode == 1
    assert "cannot run on this machine" in upgrade.stderr
    assert upgrade.stderr.rstrip().endswith("with --database-url or DATABASE_URL")
    assert "gearbox-db-url" not in upgrade.stderr
    assert "Traceback" not in upgrade.stderr


def test_plugin_message_names_the_cause_and_the_plugin_options(
    pytester: pytest.Pytester, base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_embedded_os.BIN_DIR_ENV, str(base / "missing"))
    monkeypatch.delenv("GEARBOX_DB_TEST_URL", raising=False)
    pytester.makepyfile("def test_one(gearbox_database_url):\n    assert gearbox_database_url\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 4
    output = result.stdout.str() + result.stderr.str()
    assert "cannot run on this machine" in output
    assert "--gearbox-db-url URL or GEARBOX_DB_TEST_URL" in output
    assert "--database-url " not in output


def test_missing_wheel_and_unsupported_platform_are_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(_embedded_os.BIN_DIR_ENV, raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(embedded.EmbeddedUnavailableError, match="'embedded' extra"):
        _embedded_os.binaries()
    monkeypatch.setattr(platform, "machine", lambda: "riscv64")
    with pytest.raises(embedded.EmbeddedUnavailableError, match=r"not built for .* on riscv64"):
        _embedded_os.binaries()


@needs_root
def test_binaries_out_of_the_service_accounts_reach_are_copied_not_opened_up(
    base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel_bin = _embedded_os.binaries().bin_dir
    install = wheel_bin.parent  # <site-packages>/<pkg>/pginstall
    private = Path(tempfile.mkdtemp(prefix="gearbox-db-venv-", dir="/dev/shm"))  # 0700
    try:
        copy = private / install.parent.name / install.name
        shutil.copytree(install, copy, symlinks=True)
        for libs in install.parent.parent.glob("*.libs"):
            shutil.copytree(libs, private / libs.name, symlinks=True)
        monkeypatch.setenv(_embedded_os.BIN_DIR_ENV, str(copy / wheel_bin.name))
        monkeypatch.setenv(embedded.HOME_ENV, str(base / "home"))
        data_dir = base / "data"
        try:
            server = embedded.start(data_dir)
            with psycopg.connect(server.url) as connection:
                assert connection.execute("SELECT 1").fetchone() == (1,)
        finally:
            embedded.stop(data_dir, remove=True)
        assert private.stat().st_mode & 0o777 == 0o700
        mirrors = list((base / "home").glob("postgresql-*"))
        assert len(mirrors) == 1
        assert (mirrors[0] / install.parent.name / install.name / wheel_bin.name).is_dir()
    finally:
        shutil.rmtree(private)
