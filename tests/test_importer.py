"""The importer against real PostgreSQL: clean files, the target, the source file, edge cases."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Connection, text

from gearbox_db import migrations
from gearbox_db.importer import TargetNotEmptyError, import_sqlite
from gearbox_db.testing import isolated, legacy
from tests.category_totals import maintained
from tests.category_totals import recount as recount_totals
from tests.importer_oracle import (
    actual,
    assert_imported,
    digest,
    expected,
    found,
    rows_of,
    snapshot,
)

# --- clean files ------------------------------------------------------------------


@pytest.mark.parametrize("release", legacy.RELEASES)
def test_a_clean_file_of_each_release_imports_value_for_value(
    release: str, tmp_path: Path, gearbox_connection: Connection
) -> None:
    path = tmp_path / "gearbox.db"
    spec = legacy.Spec(items=60, release=release, hostile=True, timestamps=("s", "ms", "iso"))
    made = legacy.generate(path, spec)
    result = import_sqlite(path, gearbox_connection)
    assert result.written
    assert not result.problems
    assert_imported(expected(path), actual(gearbox_connection))
    for summary in result.tables:
        assert summary.verified == summary.written
        assert summary.read == made.counts.get(summary.table, 0)


@pytest.mark.parametrize("first_pass", ["strict", "python"])
def test_every_pass_imports_the_same(
    first_pass: str, tmp_path: Path, gearbox_connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gearbox_db.importer import _run

    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=60, hostile=True, timestamps=("s", "ms", "iso")))
    monkeypatch.setattr(_run, "FIRST_PASS", first_pass)
    result = import_sqlite(path, gearbox_connection)
    assert result.written
    assert not result.problems
    assert_imported(expected(path), actual(gearbox_connection))


def test_an_empty_database_is_migrated_first(
    tmp_path: Path, gearbox_empty_database_url: str
) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=20))
    assert migrations.current(gearbox_empty_database_url) == ()
    assert import_sqlite(path, gearbox_empty_database_url).written
    assert migrations.current(gearbox_empty_database_url) == (migrations.head(),)
    assert migrations.check(gearbox_empty_database_url) == []
    assert_imported(expected(path), rows_of(gearbox_empty_database_url))


def test_the_schema_is_unchanged_and_identities_continue_above_the_file(
    tmp_path: Path, gearbox_database_url: str
) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=30))
    with sqlite3.connect(path) as conn:  # the ids of deleted rows are not reused either
        conn.execute("UPDATE sqlite_sequence SET seq = seq + 1000 WHERE name = 'items'")
        item_seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'items'").fetchone()
    conn.close()
    before = snapshot(gearbox_database_url)
    assert any(name.startswith("ix_items_by_") for name, *_ in before["indexes"])
    assert any(targets == [1000] for *_, targets in before["indexes"])
    import_sqlite(path, gearbox_database_url)
    after = snapshot(gearbox_database_url)
    assert after["constraints"] == before["constraints"]
    assert after["indexes"] == before["indexes"]  # dropped for the load, built again
    assert migrations.check(gearbox_database_url) == []
    with psycopg.connect(gearbox_database_url) as pg:
        new_item = pg.execute(
            "INSERT INTO items (name, category_id) SELECT 'new', min(id) FROM categories "
            "RETURNING id"
        ).fetchone()
        assert new_item is not None
        assert new_item[0] == item_seq[0] + 1
        for table in ("categories", "threads", "setups", "users", "oauth_clients"):
            top = pg.execute(f"SELECT max(id) FROM {table}").fetchone()  # noqa: S608
            nxt = pg.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))").fetchone()
            assert top is not None
            assert nxt is not None
            assert nxt[0] > top[0]


def test_uncategorized_of_the_file_is_kept_with_its_id(
    tmp_path: Path, gearbox_connection: Connection
) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=10))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE categories SET id = 7000 WHERE name = 'Uncategorized'")
        for table in ("items", "threads", "thread_candidates"):
            conn.execute(f"UPDATE {table} SET category_id = 7000 WHERE category_id = 1")  # noqa: S608
    conn.close()
    result = import_sqlite(path, gearbox_connection)
    assert result.written
    names = gearbox_connection.execute(text("SELECT id, name FROM categories")).all()
    assert result.uncategorized_id == 7000
    assert [i for i, n in names if n == "Uncategorized"] == [7000]


def test_a_file_without_uncategorized_gets_one_above_its_ids(
    tmp_path: Path, gearbox_connection: Connection
) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=10, uncategorized=False))
    result = import_sqlite(path, gearbox_connection)
    top = max(expected(path)["categories"])
    assert result.uncategorized_id == top
    row = gearbox_connection.execute(
        text("SELECT name, icon FROM categories WHERE id = :id"), {"id": top}
    ).one()
    assert tuple(row) == ("Uncategorized", "package")


def test_secrets_are_only_stored_hashed(tmp_path: Path, gearbox_connection: Connection) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=200))
    with sqlite3.connect(path) as conn:
        raw = [r[0] for r in conn.execute("SELECT id FROM sessions UNION ALL SELECT code FROM "
               "oauth_codes UNION ALL SELECT access_token FROM oauth_tokens")]  # fmt: skip
    conn.close()
    import_sqlite(path, gearbox_connection)
    dump = str(actual(gearbox_connection))
    assert raw
    assert not any(secret in dump for secret in raw)


# --- the source file --------------------------------------------------------------


def test_the_source_file_is_never_modified(tmp_path: Path, gearbox_database_url: str) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=40, problems={"orphan"}))
    before = digest(path)
    import_sqlite(path, gearbox_database_url)  # problems: rolled back
    import_sqlite(path, gearbox_database_url, dry_run=True)
    import_sqlite(path, gearbox_database_url, repair=True)
    with pytest.raises(TargetNotEmptyError):
        import_sqlite(path, gearbox_database_url, repair=True)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gearbox.db"]


def test_a_wal_file_is_read_with_its_wal_and_left_as_it_was(
    tmp_path: Path, gearbox_connection: Connection
) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=20, wal=True))
    writer = sqlite3.connect(path, isolation_level=None)  # GearBox still running
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("INSERT INTO settings (key, value) VALUES ('only-in-the-wal', 'yes')")
    # The -shm file is SQLite's shared-memory index, written by every reader: not data.
    files = {p.name: digest(p) for p in tmp_path.iterdir() if p.suffix != ".db-shm"}
    assert "gearbox.db-wal" in files
    try:
        import_sqlite(path, gearbox_connection)
        assert {p.name: digest(p) for p in tmp_path.iterdir() if p.suffix != ".db-shm"} == files
    finally:
        writer.close()
    value = gearbox_connection.execute(
        text("SELECT value FROM settings WHERE key = 'only-in-the-wal'")
    ).scalar()
    assert value == "yes"


def test_text_that_is_not_utf8_is_reported_and_repaired(
    tmp_path: Path, gearbox_database_url: str
) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=10))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE items SET notes = CAST(x'6869ff' AS TEXT) WHERE id = 2")
        conn.execute("UPDATE items SET name = x'616263' WHERE id = 3")
    conn.close()
    result = import_sqlite(path, gearbox_database_url)
    assert found(result) == {
        ("items", 2, "notes", "not_text"),
        ("items", 3, "name", "not_text"),
    }
    assert import_sqlite(path, gearbox_database_url, repair=True).written
    items = rows_of(gearbox_database_url)["items"]
    assert (items[2]["notes"], items[3]["name"]) == ("hi\ufffd", "abc")


def test_isolated_imports_on_a_connection_leave_nothing(
    tmp_path: Path, gearbox_connection: Connection
) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=10))
    with isolated(gearbox_connection) as conn:
        import_sqlite(path, conn)
        assert conn.execute(text("SELECT count(*) FROM items")).scalar() == 10
    assert gearbox_connection.execute(text("SELECT count(*) FROM items")).scalar() == 0


def test_a_file_missing_a_parent_table_imports_its_rows_as_orphans(
    tmp_path: Path, gearbox_database_url: str
) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=10))
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE thread_candidates")
        conn.execute("DROP TABLE users")
    conn.close()
    result = import_sqlite(path, gearbox_database_url, repair=True)
    assert result.written
    rules = {(p.table, p.column, p.problem) for p in result.problems}
    assert ("sessions", "user_id", "orphan") in rules
    resolved = [p for p in result.problems if p.column == "resolved_candidate_id"]
    assert all(p.problem == "bad_resolved_candidate" for p in resolved)
    assert rows_of(gearbox_database_url)["sessions"] == {}


def test_values_made_equal_by_a_repair_count_as_duplicates(
    tmp_path: Path, gearbox_database_url: str
) -> None:
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=20))
    add = "INSERT INTO categories (id, name, icon, created_at) VALUES (?, ?, 'tent', 1)"
    with sqlite3.connect(path) as conn:
        conn.execute(add, (900, "Sh\x00elter"))
        conn.execute(add, (901, "Shelter"))  # the same name once the NUL is removed
        conn.execute("UPDATE items SET category_id = 900 WHERE id = 1")
        conn.execute("UPDATE items SET category_id = 901 WHERE id = 2")
    conn.close()
    result = import_sqlite(path, gearbox_database_url, repair=True)
    assert found(result) == {
        ("categories", 900, "name", "nul_character"),
        ("categories", 901, "name", "duplicate"),
        ("items", 2, "category_id", "orphan"),
    }
    target = rows_of(gearbox_database_url)
    assert target["categories"][900]["name"] == "Shelter"
    assert 901 not in target["categories"]
    assert target["items"][1]["category_id"] == 900
    assert target["items"][2]["category_id"] == result.uncategorized_id


def test_any_file_name_is_read_and_no_target_means_a_dry_run(tmp_path: Path) -> None:
    folder = tmp_path / "we ird?#%dir"
    folder.mkdir()
    path = folder / "gear box.db"
    made = legacy.generate(path, legacy.Spec(items=5))
    result = import_sqlite(path, None)
    assert result.dry_run
    assert not result.written
    assert result.rows_read == sum(made.counts.values())


def test_imported_sessions_and_tokens_still_work(tmp_path: Path, gearbox_database_url: str) -> None:
    from gearbox_db import Database

    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=40))
    with sqlite3.connect(path) as conn:
        token, user_id = conn.execute("SELECT id, user_id FROM sessions LIMIT 1").fetchone()
        conn.execute("UPDATE sessions SET expires_at = 4102444800 WHERE id = ?", (token,))
        access, owner = conn.execute("SELECT access_token, user_id FROM oauth_tokens").fetchone()
        conn.execute("UPDATE oauth_tokens SET expires_at = 4102444800, revoked = 0")
    conn.close()
    import_sqlite(path, gearbox_database_url)
    db = Database.connect(gearbox_database_url)
    try:
        user = db.sessions.validate(token)
        assert user is not None
        assert user.id == user_id
        assert db.sessions.validate(token + "x") is None
        grant = db.oauth.validate_access(access)
        assert grant is not None
        assert grant.user.id == owner
        # columns the file lacks: the family and the keys end 90 and 365 days from the import
        now = datetime.now(UTC)
        assert grant.token.family_expires_at > now + timedelta(days=89)
        keys = db.api_keys.list_for_user(owner)
        assert all(k.expires_at > now + timedelta(days=364) for k in keys)
    finally:
        db.close()


# --- category_totals ---------------------------------------------------------------


@pytest.mark.parametrize("recount", [True, False], ids=["recounted", "through-triggers"])
def test_category_totals_are_those_of_the_imported_items(
    tmp_path: Path,
    gearbox_connection: Connection,
    monkeypatch: pytest.MonkeyPatch,
    recount: bool,
) -> None:
    """Loaded with the triggers off and recounted once (the default), or through the
    triggers: the totals equal a recount, replace what was there, and the triggers
    are on again afterwards."""
    from gearbox_db.importer._writer import Writer

    monkeypatch.setattr(Writer, "recount_totals", recount)
    conn = gearbox_connection
    conn.execute(text("INSERT INTO categories (name) VALUES ('Before')"))
    conn.execute(
        text(
            "INSERT INTO items (name, category_id, weight_grams, quantity) "
            "SELECT 'old', id, 0.1, 3 FROM categories WHERE name = 'Before'"
        )
    )
    path = tmp_path / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=80, hostile=True))
    assert import_sqlite(path, conn, replace=True).written
    counted = recount_totals(conn)
    assert counted
    assert maintained(conn) == counted
    conn.execute(text("UPDATE items SET quantity = quantity + 1"))
    assert maintained(conn) == recount_totals(conn) != counted
    triggers = conn.execute(
        text(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'items'::regclass "
            "AND tgname LIKE 'items_category_totals_%'"
        )
    ).all()
    assert {enabled for _, enabled in triggers} == {"O"}
    assert len(triggers) == 4
