"""The embedded development PostgreSQL: a real PostgreSQL 16 from the ``pgserver`` wheel.

Zero-setup default of the CLI (when neither ``--database-url`` nor
``DATABASE_URL`` is given) and of the test fixtures. Its data lives in the
user's data directory (``~/.local/share/gearbox-db/postgres`` on Linux), or
wherever ``GEARBOX_DB_EMBEDDED_DIR`` or the ``data_dir`` argument says. It
listens on a Unix socket only, never on a network port.

Run as root, pgserver starts the server as its own unprivileged system user
(``pgserver``), because PostgreSQL refuses to run as root.

Needs the ``embedded`` extra (``pip install 'gearbox-db[embedded]'``);
pgserver has wheels for CPython 3.9 to 3.12 only. Elsewhere, point
``DATABASE_URL`` at any PostgreSQL >= 15.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any, Final

import attrs

from gearbox_db.errors import ConfigurationError

__all__ = [
    "DATA_DIR_ENV",
    "DEFAULT_DATABASE",
    "EmbeddedServer",
    "default_data_dir",
    "is_running",
    "start",
    "stop",
]

#: Environment variable overriding the embedded server's data directory.
DATA_DIR_ENV: Final = "GEARBOX_DB_EMBEDDED_DIR"
#: The database that holds GearBox's data on the embedded server.
DEFAULT_DATABASE: Final = "gearbox"

_MISSING_HINT: Final = (
    "the embedded PostgreSQL needs the 'embedded' extra: pip install 'gearbox-db[embedded]' "
    "(pgserver ships wheels for CPython 3.9-3.12 on Linux and macOS); "
    "or point --database-url / DATABASE_URL at a PostgreSQL server"
)


@attrs.frozen
class EmbeddedServer:
    """A running embedded server."""

    data_dir: Path
    #: libpq URL (``postgresql://postgres:@/postgres?host=<socket dir>``).
    url: str
    #: Directory of the Unix socket (the libpq ``host``).
    socket_dir: Path
    port: int
    #: True when this call started the server, False when it was running already.
    started: bool

    def url_for(self, database: str) -> str:
        """URL of another database on this server."""
        return f"postgresql://postgres:@/{database}?host={self.socket_dir}&port={self.port}"

    def ensure_database(self, name: str = DEFAULT_DATABASE) -> str:
        """URL of database ``name`` on this server, created first if it does not exist."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url, autocommit=True) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)


def _pgserver() -> Any:
    try:
        with warnings.catch_warnings():
            # pgserver asks platformdirs for a runtime dir at import time, which
            # warns when XDG_RUNTIME_DIR is unset (containers, CI, cron).
            warnings.simplefilter("ignore")
            import pgserver
            from pgserver import utils
    except ImportError as exc:
        raise ConfigurationError(_MISSING_HINT) from exc
    return pgserver, utils


def default_data_dir() -> Path:
    """Where the embedded server keeps its data unless told otherwise."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    try:
        import platformdirs
    except ImportError as exc:
        raise ConfigurationError(_MISSING_HINT) from exc
    return platformdirs.user_data_path("gearbox-db") / "postgres"


def _postmaster(data_dir: Path) -> Any | None:
    _, utils = _pgserver()
    info = utils.PostmasterInfo.read_from_pgdata(data_dir)
    return info if info is not None and info.is_running() else None


def is_running(data_dir: Path | None = None) -> bool:
    """Whether an embedded server runs on ``data_dir`` (default: :func:`default_data_dir`)."""
    directory = (data_dir or default_data_dir()).expanduser().resolve()
    return directory.exists() and _postmaster(directory) is not None


def start(data_dir: Path | None = None, *, keep_running: bool = True) -> EmbeddedServer:
    """Start the embedded server on ``data_dir``, or reuse the one already running there.

    The data directory is created (``initdb``) on first use. With
    ``keep_running=False`` a server started by this call is stopped when the
    process exits; a server that was already running is never stopped here.
    """
    pgserver, _ = _pgserver()
    directory = (data_dir or default_data_dir()).expanduser().resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    was_running = is_running(directory)
    cleanup = None if keep_running or was_running else "stop"
    try:
        server = pgserver.get_server(directory, cleanup_mode=cleanup)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigurationError(
            f"cannot start the embedded PostgreSQL in {directory}: {exc}; "
            f"its log is {directory / 'log'}"
        ) from exc
    info = server.get_postmaster_info()
    return EmbeddedServer(
        data_dir=directory,
        url=server.get_uri(),
        socket_dir=Path(info.socket_dir),
        port=int(info.port or 5432),
        started=not was_running,
    )


def stop(data_dir: Path | None = None, *, remove: bool = False) -> bool:
    """Stop the embedded server on ``data_dir``; with ``remove``, delete its data too.

    Returns whether a running server was stopped.
    """
    directory = (data_dir or default_data_dir()).expanduser().resolve()
    stopped = False
    if directory.exists() and _postmaster(directory) is not None:
        pgserver, _ = _pgserver()
        user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
        pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=directory, user=user)
        stopped = True
    if remove and directory.exists():
        shutil.rmtree(directory)
    return stopped
