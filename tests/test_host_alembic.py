"""gearbox_db's migrations inside a host service's own Alembic project (issue 10, point 1).

A real project made by ``alembic init`` in a temp dir, driven by the
``alembic`` command line in a subprocess: the service's ``env.py`` runs our
migrations, keeps its own history and tables, and its autogenerate leaves
our tables alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import inspect

from gearbox_db import migrations
from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.schema import metadata
from tests.host_project.files import Placement, alembic, make_host_project
from tests.test_migrations import connect


def _tables(url: str) -> set[str]:
    with connect(url) as conn:
        return set(inspect(conn).get_table_names())


@pytest.fixture(params=["before_configure", "in_transaction"])
def host_project(
    request: pytest.FixtureRequest, tmp_path: Path, gearbox_empty_database_url: str
) -> Path:
    placement: Placement = request.param
    url = to_sqlalchemy_url(gearbox_empty_database_url).render_as_string(hide_password=False)
    return make_host_project(tmp_path, url, placement)


@pytest.mark.slow
def test_host_upgrade_and_downgrade_run_ours_and_theirs(
    host_project: Path, gearbox_empty_database_url: str
) -> None:
    url = gearbox_empty_database_url
    result = alembic(host_project, "upgrade", "head")
    assert result.returncode == 0, result.stderr
    assert _tables(url) >= set(metadata.tables) | {
        "favorites",
        "alembic_version",
        "gearbox_db_version",
    }
    assert migrations.current(url) == (migrations.head(),)
    assert alembic(host_project, "current").stdout.split()[0] == "host0001"

    result = alembic(host_project, "downgrade", "base")
    assert result.returncode == 0, result.stderr
    assert "favorites" not in _tables(url)  # theirs went down; ours are untouched
    assert migrations.current(url) == (migrations.head(),)


@pytest.mark.slow
def test_host_autogenerate_proposes_nothing_about_our_tables(host_project: Path) -> None:
    assert alembic(host_project, "upgrade", "head").returncode == 0
    result = alembic(host_project, "revision", "--autogenerate", "-m", "nothing new")
    assert result.returncode == 0, result.stderr
    (script,) = (host_project / "migrations" / "versions").glob("*nothing_new.py")
    source = script.read_text()
    ops = re.findall(r"op\.\w+\(.*", source)
    assert ops == [], f"autogenerate proposed: {ops}"


def test_include_object_filters_our_objects_only() -> None:
    items = metadata.tables["items"]
    assert not migrations.include_object(items, "items", "table", True, None)
    assert not migrations.include_object(None, "gearbox_db_version", "table", True, None)
    index = next(iter(items.indexes))
    assert not migrations.include_object(index, index.name, "index", True, None)
    assert migrations.include_object(None, "favorites", "table", True, None)
