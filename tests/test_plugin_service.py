"""The plugin as a service's suite meets it (issue 10, points 6 and 7).

Inner suites run with ``pytester`` in a subprocess, loading the plugin by its
entry point as a consumer project does.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gearbox_db.testing import TestServer

pytest_plugins = ["pytester"]

PASSWORD = "Sekrit4711"
ROOT = Path(__file__).parent.parent

INNER_FAILING = """
def test_fails_showing_the_url(gearbox_database_url):
    local_copy = gearbox_database_url
    assert gearbox_database_url == "something else"


def test_fails_on_the_empty_url(gearbox_empty_database_url):
    assert "nothing" in gearbox_empty_database_url


def test_fails_with_the_server(gearbox_server):
    assert gearbox_server is None
"""


def _with_password(server: TestServer, port: int | None = None) -> str:
    url = server.url_for("postgres")
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    if port is not None:
        host = f"127.0.0.1:{port}/postgres"
    return f"{scheme}://{user.split(':')[0]}:{PASSWORD}@{host}"


def test_failing_tests_show_fixture_urls_masked(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, gearbox_server: TestServer
) -> None:
    monkeypatch.delenv("GEARBOX_DB_TEST_URL", raising=False)
    pytester.makepyfile(test_inner=INNER_FAILING)
    url = _with_password(gearbox_server)  # the server trusts: the password is not checked
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-l", "--gearbox-db-url", url)
    result.assert_outcomes(failed=3)
    output = result.stdout.str() + result.stderr.str()
    assert "gbtest_" in output  # the URLs are shown...
    assert PASSWORD not in output  # ...without their password


def test_a_wrong_server_url_ends_the_run_in_one_masked_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, gearbox_server: TestServer
) -> None:
    monkeypatch.delenv("GEARBOX_DB_TEST_URL", raising=False)
    pytester.makepyfile(test_inner="def test_a(gearbox_connection):\n    pass\n")
    url = _with_password(gearbox_server, port=1)  # nothing listens there
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--gearbox-db-url", url)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 1
    assert PASSWORD not in output
    lines = [
        line for line in output.splitlines() if "gearbox_db: cannot use the test server" in line
    ]
    assert len(lines) == 1, output
    assert "postgres:***@127.0.0.1:1" in lines[0]
    assert "Traceback" not in output
    assert "conninfo" not in output


BLOCK_PYTEST_ASYNCIO = """
import sys


class _NoPytestAsyncio:
    def find_spec(self, name, path=None, target=None):
        if name == "pytest_asyncio" or name.startswith("pytest_asyncio."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None


sys.meta_path.insert(0, _NoPytestAsyncio())
"""

CONSUMER_TESTS = """
from sqlalchemy import text

from gearbox_db import Database
from gearbox_db.testing import isolated


def test_repositories(gearbox_db):
    tent = gearbox_db.categories.create(name="Tent")
    assert gearbox_db.items.create(name="Duplex", category_id=tent.id).category_name == "Tent"


def test_rolled_back(gearbox_db):
    assert [c.name for c in gearbox_db.categories.list()] == ["Uncategorized"]


def test_own_database(gearbox_database_url):
    with Database.connect(gearbox_database_url) as db:
        assert db.categories.uncategorized().name == "Uncategorized"


def test_connection(gearbox_connection):
    with isolated(gearbox_connection) as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
"""


def test_a_sync_only_consumer_with_warnings_as_errors_passes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, gearbox_server: TestServer
) -> None:
    """No pytest-asyncio installed (its import blocked), ``filterwarnings = error``."""
    monkeypatch.delenv("GEARBOX_DB_TEST_URL", raising=False)
    blocker = pytester.mkdir("site")
    (blocker / "sitecustomize.py").write_text(BLOCK_PYTEST_ASYNCIO)
    monkeypatch.setenv("PYTHONPATH", str(blocker))
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n")
    pytester.makepyfile(test_consumer=CONSUMER_TESTS)
    url = gearbox_server.url_for("postgres")
    result = pytester.runpytest_subprocess(
        "-p", "no:asyncio", "-p", "no:cacheprovider", "--gearbox-db-url", url
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=4)


def test_the_testing_extra_does_not_force_pytest_asyncio() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert not any(dep.startswith("pytest-asyncio") for dep in extras["testing"])
    assert any(dep.startswith("pytest-asyncio") for dep in extras["testing-async"])


def test_the_server_fixture_shows_no_password() -> None:
    server = TestServer(
        conninfo=f"host=db user=app password={PASSWORD} dbname=postgres",
        client_conninfo=f"host=pooler user=app password={PASSWORD} dbname=postgres",
    )
    assert PASSWORD not in repr(server)
    assert "host=pooler" in repr(server)
