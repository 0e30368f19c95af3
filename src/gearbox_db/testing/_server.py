"""The PostgreSQL server a test run uses: a throwaway embedded one, or an existing one."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import attrs
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pytest_postgresql.janitor import DatabaseJanitor

from gearbox_db import embedded, migrations

__all__ = ["TestServer", "existing_server", "throwaway_server"]

_THROWAWAY_PREFIX: Final = "gearbox-db-test-"
_DB_PREFIX: Final = "gbtest_"
# Settings of a throwaway server: durability buys nothing in a test run.
_FAST_SETTINGS: Final = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
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
    ``CREATE DATABASE``; per-test databases are named ``gbtest_<pid>_<n>``.
    """

    __test__ = False  # not a pytest test class

    conninfo: str
    #: Data directory of a throwaway server this run started (removed at the end).
    data_dir: Path | None = None
    template: str | None = None
    _admin: psycopg.Connection[Any] | None = None

    def url_for(self, dbname: str) -> str:
        """libpq URL of database ``dbname`` on this server."""
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

    def new_name(self) -> str:
        """A database name unique to this run."""
        return f"{_DB_PREFIX}{os.getpid()}_{next(_counter)}"

    def make_template(self) -> str:
        """Create and migrate this run's template database (once)."""
        if self.template is None:
            name = f"{_DB_PREFIX}{os.getpid()}_tmpl"
            janitor = self.janitor(name, as_template=True)
            janitor.drop()
            janitor.init()
            migrations.upgrade(self.url_for(name))
            self.template = name
        return self.template

    def _admin_connection(self) -> psycopg.Connection[Any]:
        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(self.conninfo, autocommit=True)
        return self._admin

    def create_database(self, template: str | None = None) -> str:
        """Create a database (a clone of ``template`` if given); return its name."""
        name = self.new_name()
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query += sql.SQL(" TEMPLATE {} STRATEGY FILE_COPY").format(sql.Identifier(template))
        self._admin_connection().execute(query)
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending any connection the test left open to it."""
        self._admin_connection().execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    @contextmanager
    def database(self, template: str | None = None) -> Iterator[str]:
        """A fresh database for the duration of the block; yields its URL."""
        name = self.create_database(template)
        try:
            yield self.url_for(name)
        finally:
            self.drop_database(name)

    def drop_stale(self) -> None:
        """Drop databases left behind by earlier runs that were killed."""
        admin = self._admin_connection()
        rows = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (_DB_PREFIX + "%",)
        ).fetchall()
        for (name,) in rows:
            match = re.fullmatch(rf"{_DB_PREFIX}(\d+)_\w+", str(name))
            if match and not _pid_alive(int(match.group(1))):
                if str(name).endswith("_tmpl"):
                    admin.execute(
                        sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(
                            sql.Identifier(str(name))
                        )
                    )
                self.drop_database(str(name))

    def close(self) -> None:
        """Drop this run's template and close the admin connection."""
        if self.template is not None:
            self.janitor(self.template, as_template=True).drop()
            self.template = None
        if self._admin is not None:
            self._admin.close()


def _to_url(params: Mapping[str, object]) -> str:
    """libpq key/value parameters as a ``postgresql://`` URL SQLAlchemy can parse."""
    from urllib.parse import quote, urlencode

    user = quote(str(params.get("user") or ""), safe="")
    password = params.get("password")
    auth = f"{user}:{quote(str(password), safe='')}@" if password else f"{user}@"
    host = str(params.get("host") or "")
    query: dict[str, str] = {}
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


def existing_server(url: str) -> TestServer:
    """Use the server at ``url`` (its database is the maintenance database)."""
    server = TestServer(conninfo=make_conninfo(url))
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
        pid = directory.name.removeprefix(_THROWAWAY_PREFIX)
        if pid.isdigit() and not _pid_alive(int(pid)):
            embedded.stop(directory, remove=True)


def throwaway_server() -> TestServer:
    """Start a throwaway embedded PostgreSQL for this run, on tmpfs when there is one."""
    base = _base_dir()
    _remove_stale_throwaways(base)
    data_dir = base / f"{_THROWAWAY_PREFIX}{os.getpid()}"
    if data_dir.exists():
        shutil.rmtree(data_dir)
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
