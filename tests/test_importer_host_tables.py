"""The importer next to a host service's own tables that reference ours (issue 10, point 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from gearbox_db.importer import TargetNotEmptyError, import_sqlite
from gearbox_db.testing import legacy
from tests.importer_oracle import actual, assert_imported, expected

FAVORITES = (
    "CREATE TABLE favorites (id serial PRIMARY KEY, "
    "item_id int REFERENCES items(id) ON DELETE CASCADE, note text)"
)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=20))
    return path


def _constraints(conn: Connection) -> list[str]:
    return list(
        conn.execute(
            text(
                "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'favorites'::regclass ORDER BY 1"
            )
        ).scalars()
    )


@pytest.mark.parametrize("replace", [False, True])
def test_an_empty_host_table_referencing_ours_is_left_alone(
    gearbox_connection: Connection, sample: Path, replace: bool
) -> None:
    conn = gearbox_connection
    conn.execute(text(FAVORITES))
    before = _constraints(conn)
    result = import_sqlite(sample, conn, replace=replace)
    assert result.written
    assert_imported(expected(sample), actual(conn))
    assert _constraints(conn) == before
    assert conn.execute(text("SELECT count(*) FROM favorites")).scalar_one() == 0


def test_a_host_row_referencing_ours_refuses_the_import_naming_its_table(
    gearbox_connection: Connection, sample: Path
) -> None:
    conn = gearbox_connection
    conn.execute(text(FAVORITES))
    item_id = conn.execute(
        text(
            "INSERT INTO items (name, category_id) "
            "SELECT 'Old tarp', id FROM categories WHERE name = 'Uncategorized' RETURNING id"
        )
    ).scalar_one()
    conn.execute(
        text("INSERT INTO favorites (item_id, note) VALUES (:id, 'mine')"), {"id": item_id}
    )
    with pytest.raises(TargetNotEmptyError, match=r"favorites .*items") as caught:
        import_sqlite(sample, conn, replace=True)
    assert "favorites_item_id_fkey" in str(caught.value)
    assert conn.execute(text("SELECT note FROM favorites")).scalars().all() == ["mine"]
    assert conn.execute(text("SELECT name FROM items")).scalars().all() == ["Old tarp"]


def test_a_host_row_referencing_uncategorized_refuses_even_an_empty_target(
    gearbox_connection: Connection, sample: Path
) -> None:
    conn = gearbox_connection
    conn.execute(
        text(
            "CREATE TABLE shelves (id serial PRIMARY KEY, "
            "category_id int REFERENCES categories(id));"
            "INSERT INTO shelves (category_id) SELECT id FROM categories"
        )
    )
    with pytest.raises(TargetNotEmptyError, match="shelves"):
        import_sqlite(sample, conn)
    assert conn.execute(text("SELECT count(*) FROM shelves")).scalar_one() == 1
