"""Every kind of problem: reported with table, id and column; nothing written; or repaired."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from gearbox_db import migrations
from gearbox_db.importer import TargetNotEmptyError, import_sqlite
from gearbox_db.testing import TestServer, legacy
from gearbox_db.testing._legacy_plant import DROPPED, OTHER_TIMESTAMP, UNCATEGORIZED
from tests.importer_oracle import (
    assert_imported,
    expected,
    found,
    planted,
    rows_of,
    snapshot,
)

ALL_KINDS = frozenset(legacy.PROBLEM_KINDS)


@pytest.mark.parametrize("kind", legacy.PROBLEM_KINDS)
def test_each_problem_is_reported_and_nothing_written(
    kind: str, tmp_path: Path, gearbox_database_url: str
) -> None:
    path = tmp_path / "gearbox.db"
    made = legacy.generate(path, legacy.Spec(items=40, seed=5, problems={kind}))
    before = snapshot(gearbox_database_url)
    result = import_sqlite(path, gearbox_database_url)
    assert made.planted
    assert found(result) == planted(made)
    assert not result.written
    assert not result.ok
    assert snapshot(gearbox_database_url) == before


def test_all_problems_together_are_reported_in_one_run(
    tmp_path: Path, gearbox_database_url: str
) -> None:
    path = tmp_path / "gearbox.db"
    made = legacy.generate(path, legacy.Spec(items=40, seed=5, problems=ALL_KINDS))
    before = snapshot(gearbox_database_url)
    result = import_sqlite(path, gearbox_database_url)
    assert found(result) == planted(made)
    assert snapshot(gearbox_database_url) == before
    dry = import_sqlite(path, gearbox_database_url, dry_run=True)
    assert found(dry) == planted(made)
    assert not dry.written


def _expected_repair(
    clean: dict[str, dict[Any, dict[str, Any]]], made: legacy.Generated, uncategorized: int
) -> dict[str, dict[Any, dict[str, Any]]]:
    """The clean file's rows with the documented repair of each planted problem applied."""
    for item in made.planted:
        rows = clean[item.table]
        if item.repaired == DROPPED:
            rows.pop(item.id, None)
        elif item.repaired == UNCATEGORIZED:
            rows[item.id][item.column] = uncategorized
        elif item.repaired == OTHER_TIMESTAMP:
            rows[item.id][item.column] = rows[item.id]["updated_at"]
        else:
            rows[item.id][item.column] = item.repaired
    return clean


@pytest.fixture(scope="module")
def clean_rows(
    tmp_path_factory: pytest.TempPathFactory, gearbox_server: TestServer, gearbox_template: str
) -> dict[str, dict[Any, dict[str, Any]]]:
    """The import of the file the repair tests plant their problems in, before planting."""
    path = tmp_path_factory.mktemp("clean") / "clean.db"
    legacy.generate(path, legacy.Spec(items=40, seed=5))
    with gearbox_server.database(gearbox_template) as url:
        import_sqlite(path, url)
        return rows_of(url)


@pytest.mark.parametrize("kinds", [*([k] for k in legacy.PROBLEM_KINDS), sorted(ALL_KINDS)])
def test_repair_applies_the_documented_repairs_and_nothing_else(
    kinds: list[str],
    clean_rows: dict[str, dict[Any, dict[str, Any]]],
    tmp_path: Path,
    gearbox_database_url: str,
) -> None:
    path = tmp_path / "dirty.db"
    made = legacy.generate(path, legacy.Spec(items=40, seed=5, problems=frozenset(kinds)))
    result = import_sqlite(path, gearbox_database_url, repair=True)
    assert result.written
    assert found(result) == planted(made)
    assert all(p.repaired and p.repair for p in result.problems)
    assert migrations.check(gearbox_database_url) == []
    repaired = rows_of(gearbox_database_url)
    assert result.uncategorized_id is not None
    want = _expected_repair(copy.deepcopy(clean_rows), made, result.uncategorized_id)
    for table, rows in want.items():
        assert repaired[table] == rows, table


def test_a_dry_run_writes_nothing(tmp_path: Path, gearbox_database_url: str) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=40))
    before = snapshot(gearbox_database_url)
    result = import_sqlite(path, gearbox_database_url, dry_run=True)
    assert result.ok
    assert not result.written
    assert result.rows_written == result.rows_read
    assert snapshot(gearbox_database_url) == before


def test_a_target_holding_data_is_refused_unless_replace(
    tmp_path: Path, gearbox_database_url: str
) -> None:
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    legacy.generate(first, legacy.Spec(items=30, seed=1))
    legacy.generate(second, legacy.Spec(items=20, seed=2))
    import_sqlite(first, gearbox_database_url)
    before = snapshot(gearbox_database_url)
    with pytest.raises(TargetNotEmptyError, match="--replace"):
        import_sqlite(second, gearbox_database_url)
    # A dry run judges the file alone (issue 10): the target's contents do not matter.
    assert import_sqlite(second, gearbox_database_url, dry_run=True).ok
    assert snapshot(gearbox_database_url) == before
    assert import_sqlite(second, gearbox_database_url, replace=True).written
    assert_imported(expected(second), rows_of(gearbox_database_url))
