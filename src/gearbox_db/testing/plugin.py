"""pytest plugin of gearbox_db (registered through the ``pytest11`` entry point).

Fixtures, lazily started (a test run that asks for none starts no server):

``gearbox_server`` (session)
    The server of the run: a throwaway embedded PostgreSQL 18 on tmpfs, or
    the existing server named by ``--gearbox-db-url`` / ``GEARBOX_DB_TEST_URL``
    (test databases are then created and dropped in it).
``gearbox_template`` (session)
    Name of a database migrated to head once per run, the template of the
    per-test databases.
``gearbox_database_url`` (function)
    URL of a fresh migrated database of the test's own, cloned from the
    template and dropped afterwards. For tests that commit, use several
    connections, or test concurrency.
``gearbox_empty_database_url`` (function)
    URL of a fresh database with no schema at all (for migration tests).
``gearbox_connection`` (function)
    A SQLAlchemy ``Connection`` to a migrated database, inside a transaction
    that is rolled back after the test: the cheapest isolation. Code under
    test may open savepoints (``connection.begin_nested()``) but must not
    commit. Inside a hypothesis test, wrap each example in
    :func:`gearbox_db.testing.isolated`.
``gearbox_db`` (function)
    A :class:`~gearbox_db.Database` on ``gearbox_connection``: the
    repositories, everything rolled back after the test.
``gearbox_async_connection``, ``gearbox_async_db`` (function)
    The same for async code: an ``AsyncConnection`` in a rolled-back
    transaction, an :class:`~gearbox_db.AsyncDatabase` on it. Registered only
    when the pytest-asyncio plugin is active (``gearbox-db[testing-async]``):
    a sync-only project needs neither it nor its configuration.

URLs the fixtures give mask their password in ``repr`` (what pytest shows of
a failing test), and a test server that cannot be reached ends the run with
one line, its password masked. ``--gearbox-db-admin-url`` names the same
server directly when ``--gearbox-db-url`` goes through a pooler (PgBouncer):
databases are then created, migrated and dropped over the admin URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import psycopg
import pytest
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.pool import StaticPool

from gearbox_db._redact import one_line, redact, secrets_of
from gearbox_db._url import mask, to_sqlalchemy_url
from gearbox_db.embedded import EmbeddedUnavailableError
from gearbox_db.errors import GearboxDBError
from gearbox_db.testing._masked import MaskedURL
from gearbox_db.testing._server import (
    TestServer,
    connect_args,
    existing_server,
    stop_throwaway,
    throwaway_server,
)

if TYPE_CHECKING:
    from gearbox_db._sync.database import Database

__all__ = [
    "gearbox_connection",
    "gearbox_database_url",
    "gearbox_db",
    "gearbox_empty_database_url",
    "gearbox_server",
    "gearbox_template",
]

URL_ENV = "GEARBOX_DB_TEST_URL"
#: What a test run can do where the embedded server cannot run.
PLUGIN_OPTIONS = (
    f"or run the tests against an existing PostgreSQL server: --gearbox-db-url URL or {URL_ENV}"
)
ADMIN_URL_ENV = "GEARBOX_DB_TEST_ADMIN_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--gearbox-db-url`` and ``--gearbox-db-admin-url``."""
    parser.addoption(
        "--gearbox-db-url",
        default=None,
        help=(
            "run gearbox_db fixtures against this existing PostgreSQL server (a URL of a "
            f"role that may CREATE DATABASE); default: ${URL_ENV}, else a throwaway "
            "embedded PostgreSQL 18"
        ),
    )
    parser.addoption(
        "--gearbox-db-admin-url",
        default=None,
        help=(
            "the same server reached directly, when --gearbox-db-url goes through a pooler "
            "(PgBouncer): test databases are created, migrated and dropped over it; "
            f"default: ${ADMIN_URL_ENV}"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the async fixtures when (and only when) pytest-asyncio is active."""
    if config.pluginmanager.hasplugin("asyncio"):
        from gearbox_db.testing import _async_plugin

        config.pluginmanager.register(_async_plugin, "gearbox_db_async")


def pytest_report_header(config: pytest.Config) -> str:
    """Say which server the gearbox_db fixtures use."""
    url = config.getoption("--gearbox-db-url") or os.environ.get(URL_ENV)
    if url:
        admin = config.getoption("--gearbox-db-admin-url") or os.environ.get(ADMIN_URL_ENV)
        suffix = f" (admin {mask(admin)})" if admin else ""
        return f"gearbox_db: existing server {mask(url)}{suffix}"
    return "gearbox_db: throwaway embedded PostgreSQL (when a fixture asks for it)"


@pytest.hookimpl(tryfirst=True)
def pytest_assertrepr_compare(op: str, left: object, right: object) -> list[str] | None:
    """Compare a fixture's URL without pytest's text diff, which would show its password."""
    if not isinstance(left, MaskedURL) and not isinstance(right, MaskedURL):
        return None
    return [f"{left!r} {op} {right!r}", "(gearbox_db: URLs compared with their password masked)"]


@pytest.fixture(scope="session")
def gearbox_server(request: pytest.FixtureRequest) -> Iterator[TestServer]:
    """The PostgreSQL server of this test run."""
    url = request.config.getoption("--gearbox-db-url") or os.environ.get(URL_ENV)
    if url:
        admin = request.config.getoption("--gearbox-db-admin-url") or os.environ.get(ADMIN_URL_ENV)
        server = _existing_or_exit(str(url), str(admin) if admin else None)
        yield server
        server.close()
    else:
        try:
            server = throwaway_server()
        except EmbeddedUnavailableError as exc:
            pytest.exit(f"gearbox_db: {exc.cause}; {PLUGIN_OPTIONS}", returncode=4)
        yield server
        stop_throwaway(server)


def _existing_or_exit(url: str, admin: str | None) -> TestServer:
    """The existing server, or the end of the run in one line without any password."""
    try:
        return existing_server(url, admin)
    except (psycopg.Error, GearboxDBError) as exc:
        secrets = secrets_of(url) | secrets_of(admin)
        reason = one_line(redact(str(exc), secrets))
        pytest.exit(
            f"gearbox_db: cannot use the test server {mask(admin or url)}: {reason}", returncode=1
        )


@pytest.fixture(scope="session")
def gearbox_template(gearbox_server: TestServer) -> str:
    """Name of this run's template database, migrated to head once."""
    return gearbox_server.make_template()


@pytest.fixture
def gearbox_database_url(gearbox_server: TestServer, gearbox_template: str) -> Iterator[str]:
    """URL of a fresh migrated database for this test alone (dropped afterwards)."""
    with gearbox_server.database(template=gearbox_template) as url:
        yield MaskedURL(url)


@pytest.fixture
def gearbox_empty_database_url(gearbox_server: TestServer) -> Iterator[str]:
    """URL of a fresh database without any schema (dropped afterwards)."""
    with gearbox_server.database() as url:
        yield MaskedURL(url)


@pytest.fixture(scope="session")
def _gearbox_shared_url(gearbox_server: TestServer, gearbox_template: str) -> Iterator[str]:
    """One migrated database shared by the rollback fixtures of the run."""
    with gearbox_server.database(template=gearbox_template) as url:
        yield url


@pytest.fixture(scope="session")
def _gearbox_shared_engine(
    gearbox_server: TestServer, _gearbox_shared_url: str
) -> Iterator[Engine]:
    # One connection for the whole run: each test only pays BEGIN/ROLLBACK.
    engine = create_engine(
        to_sqlalchemy_url(_gearbox_shared_url),
        poolclass=StaticPool,
        connect_args=connect_args(gearbox_server),
    )
    yield engine
    engine.dispose()


@pytest.fixture
def gearbox_connection(_gearbox_shared_engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with _gearbox_shared_engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            if transaction.is_active:
                transaction.rollback()
            else:
                connection.rollback()


@pytest.fixture
def gearbox_db(gearbox_connection: Connection) -> Database:
    """A ``Database`` on ``gearbox_connection``: the repositories, rolled back after the test."""
    from gearbox_db._sync.database import Database

    return Database.from_connection(gearbox_connection)
