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
``gearbox_async_connection`` (function)
    The same for async code: an ``AsyncConnection`` in a rolled-back
    transaction (needs pytest-asyncio).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

try:
    import pytest_asyncio
except ImportError:  # the async fixture needs pytest-asyncio
    pytest_asyncio = None  # type: ignore[assignment]
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool, StaticPool

from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.embedded import EmbeddedUnavailableError
from gearbox_db.testing._server import (
    TestServer,
    existing_server,
    stop_throwaway,
    throwaway_server,
)

__all__ = [
    "gearbox_async_connection",
    "gearbox_connection",
    "gearbox_database_url",
    "gearbox_empty_database_url",
    "gearbox_server",
    "gearbox_template",
]

URL_ENV = "GEARBOX_DB_TEST_URL"
#: What a test run can do where the embedded server cannot run.
PLUGIN_OPTIONS = (
    f"or run the tests against an existing PostgreSQL server: --gearbox-db-url URL or {URL_ENV}"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--gearbox-db-url``."""
    parser.addoption(
        "--gearbox-db-url",
        default=None,
        help=(
            "run gearbox_db fixtures against this existing PostgreSQL server (a URL of a "
            f"role that may CREATE DATABASE); default: ${URL_ENV}, else a throwaway "
            "embedded PostgreSQL 18"
        ),
    )


def pytest_report_header(config: pytest.Config) -> str:
    """Say which server the gearbox_db fixtures use."""
    url = config.getoption("--gearbox-db-url") or os.environ.get(URL_ENV)
    if url:
        from gearbox_db._url import mask

        return f"gearbox_db: existing server {mask(url)}"
    return "gearbox_db: throwaway embedded PostgreSQL (when a fixture asks for it)"


@pytest.fixture(scope="session")
def gearbox_server(request: pytest.FixtureRequest) -> Iterator[TestServer]:
    """The PostgreSQL server of this test run."""
    url = request.config.getoption("--gearbox-db-url") or os.environ.get(URL_ENV)
    if url:
        server = existing_server(str(url))
        yield server
        server.close()
    else:
        try:
            server = throwaway_server()
        except EmbeddedUnavailableError as exc:
            pytest.exit(f"gearbox_db: {exc.cause}; {PLUGIN_OPTIONS}", returncode=4)
        yield server
        stop_throwaway(server)


@pytest.fixture(scope="session")
def gearbox_template(gearbox_server: TestServer) -> str:
    """Name of this run's template database, migrated to head once."""
    return gearbox_server.make_template()


@pytest.fixture
def gearbox_database_url(gearbox_server: TestServer, gearbox_template: str) -> Iterator[str]:
    """URL of a fresh migrated database for this test alone (dropped afterwards)."""
    with gearbox_server.database(template=gearbox_template) as url:
        yield url


@pytest.fixture
def gearbox_empty_database_url(gearbox_server: TestServer) -> Iterator[str]:
    """URL of a fresh database without any schema (dropped afterwards)."""
    with gearbox_server.database() as url:
        yield url


@pytest.fixture(scope="session")
def _gearbox_shared_url(gearbox_server: TestServer, gearbox_template: str) -> Iterator[str]:
    """One migrated database shared by the rollback fixtures of the run."""
    with gearbox_server.database(template=gearbox_template) as url:
        yield url


@pytest.fixture(scope="session")
def _gearbox_shared_engine(_gearbox_shared_url: str) -> Iterator[Engine]:
    # One connection for the whole run: each test only pays BEGIN/ROLLBACK.
    engine = create_engine(to_sqlalchemy_url(_gearbox_shared_url), poolclass=StaticPool)
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


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def gearbox_async_connection(_gearbox_shared_url: str) -> AsyncIterator[AsyncConnection]:
        """Async twin of ``gearbox_connection`` (a connection of its own per test)."""
        engine = create_async_engine(to_sqlalchemy_url(_gearbox_shared_url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                transaction = await connection.begin()
                try:
                    yield connection
                finally:
                    await transaction.rollback()
        finally:
            await engine.dispose()
