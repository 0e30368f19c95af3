"""The plugin through PgBouncer in transaction pooling mode (issue 10, point 6).

Needs the ``pgbouncer`` binary (skipped, saying so, without it) and a test
server on TCP (``--gearbox-db-url``).
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from gearbox_db.testing import TestServer
from gearbox_db.testing._server import existing_server
from tests.pgbouncer import pgbouncer_url

pytest_plugins = ["pytester"]
__all__ = ["pgbouncer_url"]  # the fixture, used by name

INNER = """
import psycopg
from psycopg.conninfo import conninfo_to_dict


def test_clone_through_the_pooler(gearbox_database_url):
    assert conninfo_to_dict(gearbox_database_url)["port"] == "{port}"
    with psycopg.connect(gearbox_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM categories").fetchone() == (1,)


def test_another_clone(gearbox_database_url, gearbox_db):
    assert gearbox_db.categories.uncategorized().name == "Uncategorized"
"""


def _databases(server: TestServer, pattern: str) -> list[str]:
    with psycopg.connect(server.conninfo, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (pattern,)
        ).fetchall()
    return [str(name) for (name,) in rows]


@pytest.mark.slow
def test_a_suite_through_the_pooler_with_an_admin_url(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    gearbox_server: TestServer,
    pgbouncer_url: str,
) -> None:
    monkeypatch.delenv("GEARBOX_DB_TEST_URL", raising=False)
    port = conninfo_to_dict(pgbouncer_url)["port"]
    pytester.makepyfile(test_inner=INNER.replace("{port}", str(port)))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider",
        "--gearbox-db-url", pgbouncer_url,
        "--gearbox-db-admin-url", gearbox_server.url_for("postgres"),
    )  # fmt: skip
    result.stdout.fnmatch_lines(["gearbox_db: existing server * (admin *)"])
    result.assert_outcomes(passed=2)


@pytest.mark.slow
def test_a_suite_through_the_pooler_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, pgbouncer_url: str
) -> None:
    """No admin URL: the template is migrated and cloned through the pooler too."""
    monkeypatch.delenv("GEARBOX_DB_TEST_URL", raising=False)
    port = conninfo_to_dict(pgbouncer_url)["port"]
    pytester.makepyfile(test_inner=INNER.replace("{port}", str(port)))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--gearbox-db-url", pgbouncer_url
    )
    result.assert_outcomes(passed=2)


def test_a_live_run_through_the_pooler_is_not_taken_for_dead(
    gearbox_server: TestServer, pgbouncer_url: str
) -> None:
    for _ in range(5):
        live = existing_server(pgbouncer_url)
        try:
            template = live.make_template()
            other = existing_server(pgbouncer_url)  # its stale cleanup runs here
            other.close()
            assert _databases(gearbox_server, template) == [template]
        finally:
            live.close()
        assert _databases(gearbox_server, template) == []
