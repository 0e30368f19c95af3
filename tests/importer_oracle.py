"""Helpers of the importer tests (this module holds no tests).

An oracle that reads a valid legacy file with plain sqlite3 and applies the
documented conversions, independently of the importer, and a reader of the
target that returns the same shape, so a test compares the two value for
value (doubles bit for bit); a snapshot of everything an import could change
in a target; and the problems of a result or a generated file as sets.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, create_engine, text

from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.importer import ImportResult
from gearbox_db.testing import legacy
from gearbox_db.testing.legacy import TABLES

Rows = dict[str, dict[Any, dict[str, Any]]]

_DEFAULTS = {("items", "quantity"): 1, ("thread_candidates", "status"): "researching"}
_SECRETS = {
    ("sessions", "id"): "token_hash",
    ("oauth_codes", "code"): "code_hash",
    ("oauth_tokens", "access_token"): "access_token_hash",
    ("oauth_tokens", "refresh_token"): "refresh_token_hash",
}
_TIMESTAMPS = {"created_at", "updated_at", "expires_at", "last_used_at", "refresh_expires_at"}
_BOOLEANS = {"used", "revoked"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def moment(raw: Any) -> datetime | None:
    """A legacy timestamp as the documented conversion reads it."""
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = float(raw) if "." in raw or "e" in raw.lower() else int(raw)
        except ValueError:
            parsed = datetime.fromisoformat(raw.strip())
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if raw >= 10**11:
        return _EPOCH + timedelta(microseconds=round(raw * 1000))
    return _EPOCH + timedelta(microseconds=round(raw * 1_000_000))


def _boolean(raw: Any) -> bool:
    return raw in (1, "1") or (isinstance(raw, str) and raw.strip().lower() == "true")


def _value(table: str, column: str, raw: Any) -> Any:
    if (table, column) in _SECRETS:
        return None if raw is None else hashlib.sha256(raw.encode()).hexdigest()
    if column in _TIMESTAMPS:
        return moment(raw)
    if column in _BOOLEANS:
        return _boolean(raw)
    if column == "redirect_uris":
        return json.loads(raw)
    if column in ("weight_grams", "sort_order") and raw is not None:
        return float(raw)
    return raw


def _row(conn: sqlite3.Connection, table: str, row: sqlite3.Row) -> dict[str, Any]:
    values = {_SECRETS.get((table, c), c): _value(table, c, row[c]) for c in row.keys()}  # noqa: SIM118 - a Row
    for (owner, column), default in _DEFAULTS.items():
        if owner == table:
            values.setdefault(column, default)
    if table == "items":
        values.setdefault("image_source_url", None)
    if table == "thread_candidates":
        values.setdefault("pros", None)
        values.setdefault("cons", None)
    if table == "oauth_tokens":
        values["family_id"] = values["id"]
    return values


def _positions(rows: dict[Any, dict[str, Any]]) -> None:
    """Candidates of a file without ``sort_order``: their position by id in their thread."""
    seen: dict[Any, int] = {}
    for key in sorted(rows):
        thread = rows[key]["thread_id"]
        rows[key]["sort_order"] = float(seen.get(thread, 0))
        seen[thread] = seen.get(thread, 0) + 1


def expected(path: str | Path) -> Rows:
    """Every table of the valid legacy file at ``path`` as the import must write it."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    result: Rows = {}
    for table in TABLES:
        rows: dict[Any, dict[str, Any]] = {}
        if table in names:
            for row in conn.execute(f"SELECT * FROM {table}"):  # noqa: S608 - fixed names
                values = _row(conn, table, row)
                rows[_key(table, values)] = values
        result[table] = rows
    conn.close()
    if result["thread_candidates"] and "sort_order" not in next(
        iter(result["thread_candidates"].values())
    ):
        _positions(result["thread_candidates"])
    categories = result["categories"]
    if not any(row["name"] == "Uncategorized" for row in categories.values()):
        new_id = max([*categories, _sequence(path, "categories")]) + 1
        categories[new_id] = {"id": new_id, "name": "Uncategorized", "icon": "package"}
    return result


def _sequence(path: str | Path, table: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    except sqlite3.OperationalError:
        row = None
    conn.close()
    return int(row[0]) if row else 0


def _key(table: str, values: Mapping[str, Any]) -> Any:
    if table == "sessions":
        return values["token_hash"]
    if table == "settings":
        return values["key"]
    return values["id"]


#: Columns the file does not have and the import fills with its own time (the
#: columns' defaults: 365 days for an API key, 90 for a token family, from the import).
AT_IMPORT = {("api_keys", "expires_at"), ("oauth_tokens", "family_expires_at")}


def actual(connection: Connection) -> Rows:
    """Every GearBox table of the target, keyed like :func:`expected` (without the
    columns of :data:`AT_IMPORT`)."""
    result: Rows = {}
    for table in TABLES:
        rows = connection.execute(text(f"SELECT * FROM {table}")).mappings()  # noqa: S608
        result[table] = {
            _key(table, dict(row)): {k: v for k, v in row.items() if (table, k) not in AT_IMPORT}
            for row in rows
        }
    return result


def bits(value: Any) -> Any:
    """``value`` with every double replaced by its bytes (so 0.0 != -0.0, NaN == NaN)."""
    if isinstance(value, float):
        return struct.pack(">d", value)
    if isinstance(value, dict):
        return {k: bits(v) for k, v in value.items()}
    return value


def assert_imported(expected_rows: Rows, actual_rows: Rows) -> None:
    """Assert the target holds exactly the expected rows (columns the oracle names)."""
    for table, rows in expected_rows.items():
        assert set(actual_rows[table]) == set(rows), table
        for key, values in rows.items():
            got = actual_rows[table][key]
            for column, value in values.items():
                assert bits(got[column]) == bits(value), (table, key, column, got[column], value)


def snapshot(url: str) -> dict[str, Any]:
    """Everything an import could change: rows, identities, constraints, indexes."""
    with psycopg.connect(url) as conn:
        tables = [t for t in legacy.TABLES if _exists(conn, t)]
        rows = {
            t: sorted(map(str, conn.execute(f"SELECT to_jsonb(x) FROM {t} AS x").fetchall()))  # noqa: S608
            for t in tables
        }
        sequences = conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences ORDER BY 1"
        ).fetchall()
        constraints = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace ORDER BY 1"
        ).fetchall()
        indexes = conn.execute(  # the importer drops and builds again the non-unique ones
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid), indisvalid, "
            "ARRAY(SELECT attstattarget FROM pg_attribute WHERE attrelid = indexrelid "
            "AND attstattarget > 0 ORDER BY attnum) "
            "FROM pg_index JOIN pg_class c ON c.oid = indrelid "
            "WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1"
        ).fetchall()
    return {"rows": rows, "sequences": sequences, "constraints": constraints, "indexes": indexes}


def _exists(conn: psycopg.Connection[Any], table: str) -> bool:
    return bool(conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0])  # type: ignore[index]


def rows_of(url: str) -> dict[str, dict[Any, dict[str, Any]]]:
    engine = create_engine(to_sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            return actual(conn)
    finally:
        engine.dispose()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def found(result: ImportResult) -> set[tuple[str, Any, str, str]]:
    return {(p.table, p.id, p.column, p.problem) for p in result.problems}


def planted(made: legacy.Generated) -> set[tuple[str, Any, str, str]]:
    return {(p.table, p.id, p.column, p.problem) for p in made.planted}
