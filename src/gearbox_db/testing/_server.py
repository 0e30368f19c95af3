"""The PostgreSQL server a test run uses: a throwaway embedded one, or an existing one."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Literal

import attrs
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pytest_postgresql.janitor import DatabaseJanitor

from gearbox_db import embedded, migrations
from gearbox_db._redact import redact
from gearbox_db.errors import GearboxDBError

__all__ = ["TestServer", "existing_server", "throwaway_server"]

_THROWAWAY_PREFIX: Final = "gearbox-db-test-"
_DB_PREFIX: Final = "gbtest_"
# Names of this run's databases: gbtest_<os pid>_<run key, 8 hex digits>_<n | tmpl>.
_RUN_NAME: Final = re.compile(rf"{_DB_PREFIX}(\d+)_([0-9a-f]{{8}})_\w+")
# Any other gbtest_<pid>_... name (a run of an older version): judged by its pid alone.
_PID_NAME: Final = re.compile(rf"{_DB_PREFIX}(\d+)_\w+")
# First key of the session advisory lock (<_LOCK_SPACE>, <run key>) each run holds
# on its admin connection while it lives: how runs on other hosts or in other
# containers, whose pids mean nothing here, tell that a run is still alive.
_LOCK_SPACE: Final = 0x67627462  # "gbtb"
# Settings of a throwaway server: durability buys nothing in a test run.
_FAST_SETTINGS: Final = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
# Longest wait for the backends of a database to end before dropping it (seconds).
_DROP_WAIT: Final = 5.0
#: Whether any backend holds the two-key advisory lock (key1, key2).
_LOCK_HELD: Final = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 2)"
)
_counter = itertools.count()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@attrs.define
class TestServer:
    """A server the test run creates and drops databases in.

    ``conninfo`` points at a maintenance database of a role that may run
    ``CREATE DATABASE``; per-test databases are named
    ``gbtest_<pid>_<run key>_<n>``. The run key (random, one per instance)
    keeps runs apart whose pids collide (containers sharing a server). While
    the run lives, a connection of its own holds a transaction open with an
    advisory lock on the key, so that :meth:`drop_stale` of another run, on
    any host, leaves this run's databases alone; an open transaction keeps its
    server backend even through a transaction pooler (PgBouncer), and other
    runs look the lock up in ``pg_locks``, whichever backend holds it.

    ``client_conninfo``, when set, is how tests reach the server (e.g. through
    a pooler) while ``conninfo`` (direct) creates, migrates and drops the
    databases: a pooler keeps server connections to a database it served,
    and a template with connections cannot be cloned.
    """

    __test__ = False  # not a pytest test class

    conninfo: str = attrs.field(repr=lambda conninfo: repr(redact(conninfo)))
    #: Data directory of a throwaway server this run started (removed at the end).
    data_dir: Path | None = None
    template: str | None = None
    #: How ``CREATE DATABASE ... TEMPLATE`` copies the template; None: decided at
    #: the first clone by :meth:`pick_clone_strategy`.
    clone_strategy: Literal["FILE_COPY", "WAL_LOG"] | None = None
    run_key: int = attrs.field(factory=lambda: secrets.randbits(31))
    client_conninfo: str | None = attrs.field(
        default=None, repr=lambda conninfo: repr(conninfo and redact(conninfo))
    )
    _admin: psycopg.Connection[Any] | None = None
    _liveness: psycopg.Connection[Any] | None = None

    def url_for(self, dbname: str) -> str:
        """libpq URL of database ``dbname`` on this server, as tests reach it."""
        params = conninfo_to_dict(self.client_conninfo or self.conninfo)
        params["dbname"] = dbname
        return _to_url(params)

    def admin_url_for(self, dbname: str) -> str:
        """libpq URL of database ``dbname`` over the admin (direct) connection parameters."""
        params = conninfo_to_dict(self.conninfo)
        params["dbname"] = dbname
        return _to_url(params)

    def janitor(
        self, dbname: str, *, template: str | None = None, as_template: bool = False
    ) -> DatabaseJanitor:
        """pytest-postgresql janitor for ``dbname`` on this server."""
        params = conninfo_to_dict(self.conninfo)
        return DatabaseJanitor(
            user=str(params.get("user") or "postgres"),
            host=str(params.get("host") or "localhost"),
            port=str(params.get("port") or 5432),
            password=str(params["password"]) if params.get("password") else None,
            dbname=dbname,
            template_dbname=template,
            maintenance_dbname=str(params.get("dbname") or "postgres"),
            as_template=as_template,
        )

    def _name(self, suffix: object) -> str:
        return f"{_DB_PREFIX}{os.getpid()}_{self.run_key:08x}_{suffix}"

    def new_name(self) -> str:
        """A database name unique to this run."""
        return self._name(next(_counter))

    def make_template(self) -> str:
        """Create and migrate this run's template database (once)."""
        if self.template is None:
            name = self._name("tmpl")
            self._admin_connection().execute(
                sql.SQL("CREATE DATABASE {} IS_TEMPLATE true").format(sql.Identifier(name))
            )
            try:
                migrations.upgrade(self.admin_url_for(name))
                self._end_backends(name)  # a pooler's leftovers would block the clones
            except BaseException:
                self._drop_template(name)
                raise
            self.template = name
        return self.template

    def _admin_connection(self) -> psycopg.Connection[Any]:
        if self._liveness is None or self._liveness.closed:
            # An open transaction holding the lock until close(): tells other runs
            # this one is alive (a transaction pooler cannot hand its backend over).
            self._liveness = psycopg.connect(self.conninfo)
            self._liveness.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_SPACE, self.run_key)
            )
        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(self.conninfo, autocommit=True)
        return self._admin

    def create_database(self, template: str | None = None) -> str:
        """Create a database (a clone of ``template`` if given); return its name."""
        name = self.new_name()
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            if self.clone_strategy is None:
                self.clone_strategy = self.pick_clone_strategy()
            query += sql.SQL(" TEMPLATE {} STRATEGY {}").format(
                sql.Identifier(template), sql.SQL(self.clone_strategy)
            )
        self._admin_connection().execute(query)
        return name

    def pick_clone_strategy(self) -> Literal["FILE_COPY", "WAL_LOG"]:
        """The faster way to clone a small template on this server.

        ``FILE_COPY`` copies the files between two checkpoints, cheap when
        ``fsync`` is off (the throwaway server); ``WAL_LOG`` (PostgreSQL's
        default) writes the pages to the WAL instead, much cheaper than
        those checkpoints once they must reach a disk (benchmarks/README.md).
        """
        row = self._admin_connection().execute("SHOW fsync").fetchone()
        return "FILE_COPY" if row is not None and row[0] == "off" else "WAL_LOG"

    def _drop_template(self, name: str) -> None:
        self._admin_connection().execute(
            sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(name))
        )
        self.drop_database(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending any connection the test left open to it."""
        self._end_backends(name)
        self._admin_connection().execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def _end_backends(self, name: str) -> None:
        admin = self._admin_connection()
        # DROP DATABASE waits for the database's backends to exit in 100 ms
        # steps, and the backend of a connection the test has just closed is
        # often still exiting (a third of the drops on a busy machine): end
        # them and wait here in 1 ms steps instead.
        count = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
        )
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        deadline = time.monotonic() + _DROP_WAIT
        while (row := admin.execute(count, (name,)).fetchone()) and row[0]:
            if time.monotonic() > deadline:
                break  # DROP ... WITH (FORCE) says what holds on
            time.sleep(0.001)

    @contextmanager
    def database(self, template: str | None = None) -> Iterator[str]:
        """A fresh database for the duration of the block; yields its URL."""
        name = self.create_database(template)
        try:
            yield self.url_for(name)
        finally:
            self.drop_database(name)

    def _is_stale(self, name: str) -> bool:
        admin = self._admin_connection()
        if match := _RUN_NAME.fullmatch(name):
            key = int(match.group(2), 16)
            if key == self.run_key:
                return False
            # The lock is free only when the run that took it is gone (whatever its
            # host); asked of pg_locks, which sees every backend (a pooler may hand
            # this connection the very backend that holds it).
            held = admin.execute(_LOCK_HELD, (_LOCK_SPACE, key)).fetchone()
            return not (held and held[0])
        match = _PID_NAME.fullmatch(name)
        return match is not None and not _pid_alive(int(match.group(1)))

    def drop_stale(self) -> None:
        """Drop databases left behind by earlier runs that were killed.

        A database another role owns is left alone (with a warning).
        """
        admin = self._admin_connection()
        rows = admin.execute(
            "SELECT datname, datistemplate FROM pg_database WHERE datname LIKE %s",
            (_DB_PREFIX.replace("_", r"\_") + "%",),
        ).fetchall()
        for name, is_template in rows:
            if not self._is_stale(str(name)):
                continue
            try:
                if is_template:
                    self._drop_template(str(name))
                else:
                    self.drop_database(str(name))
            except psycopg.errors.InsufficientPrivilege as exc:
                warnings.warn(
                    f"gearbox_db: cannot drop stale test database {name}: {exc}", stacklevel=2
                )

    def close(self) -> None:
        """Drop this run's template and close the admin connection."""
        if self.template is not None:
            self._drop_template(self.template)
            self.template = None
        if self._admin is not None:
            self._admin.close()
        if self._liveness is not None:
            self._liveness.close()


def _to_url(params: Mapping[str, object]) -> str:
    """libpq key/value parameters as a ``postgresql://`` URL SQLAlchemy can parse.

    Parameters a URL has no place for (``sslmode``, ``options``...) go to its query.
    """
    from urllib.parse import quote, urlencode

    user = quote(str(params.get("user") or ""), safe="")
    password = params.get("password")
    auth = f"{user}:{quote(str(password), safe='')}@" if password else f"{user}@"
    host = str(params.get("host") or "")
    query: dict[str, str] = {
        key: str(value)
        for key, value in params.items()
        if key not in {"user", "password", "host", "port", "dbname"} and value is not None
    }
    netloc = host
    if host.startswith("/"):  # Unix socket directory: pass it as a query parameter
        netloc = ""
        query["host"] = host
        if params.get("port"):
            query["port"] = str(params["port"])
    elif params.get("port"):
        netloc = f"{host}:{params['port']}"
    dbname = quote(str(params.get("dbname") or ""), safe="")
    suffix = f"?{urlencode(query)}" if query else ""
    return f"postgresql://{auth}{netloc}/{dbname}{suffix}"


def connect_args(server: TestServer) -> dict[str, object]:
    """psycopg settings of the fixtures' connections: through a transaction pooler
    (an admin URL was given) one client connection meets many server sessions,
    so it must not use server-side prepared statements."""
    return {} if server.client_conninfo is None else {"prepare_threshold": None}


def existing_server(url: str, admin_url: str | None = None) -> TestServer:
    """Use the server at ``url`` (its database is the maintenance database).

    With ``admin_url`` (the same server, directly rather than through a pooler)
    databases are created, migrated and dropped over it, and tests get URLs
    made from ``url``.
    """
    if admin_url is None:
        server = TestServer(conninfo=make_conninfo(url))
    else:
        server = TestServer(conninfo=make_conninfo(admin_url), client_conninfo=make_conninfo(url))
    server.drop_stale()
    return server


def _base_dir() -> Path:
    shm = Path("/dev/shm")  # noqa: S108 - a fixed system mount, not a temp file name
    # tmpfs makes CREATE DATABASE ... TEMPLATE + DROP ~15x faster than a disk.
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


def _remove_stale_throwaways(base: Path) -> None:
    """Stop and delete throwaway servers of earlier runs that were killed."""
    for directory in base.glob(f"{_THROWAWAY_PREFIX}*"):
        # gearbox-db-test-<pid>-<random> (or gearbox-db-test-<pid> of older versions)
        pid = directory.name.removeprefix(_THROWAWAY_PREFIX).split("-")[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            with contextlib.suppress(GearboxDBError):  # e.g. a server of another version
                embedded.stop(directory)
            embedded.stop(directory, remove=True)


def throwaway_server(base: Path | None = None) -> TestServer:
    """Start a throwaway embedded PostgreSQL for this run, on tmpfs when there is one.

    Its data directory is a new directory in ``base`` (default: /dev/shm if
    writable, else the temp directory), so that runs never share one, not even
    a run nested in another process-wide (pytester in-process).
    """
    base = base or _base_dir()
    _remove_stale_throwaways(base)
    data_dir = Path(tempfile.mkdtemp(prefix=f"{_THROWAWAY_PREFIX}{os.getpid()}-", dir=base))
    info = embedded.start(data_dir, keep_running=False)
    with psycopg.connect(info.url, autocommit=True) as admin:
        for key, value in _FAST_SETTINGS.items():
            admin.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(key), value))
        admin.execute("SELECT pg_reload_conf()")
    return TestServer(conninfo=make_conninfo(info.url), data_dir=data_dir)


def stop_throwaway(server: TestServer) -> None:
    """Stop a server started by :func:`throwaway_server` and delete its data."""
    server.close()
    if server.data_dir is not None:
        embedded.stop(server.data_dir, remove=True)
