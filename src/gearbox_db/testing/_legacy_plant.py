"""Planting problems into a legacy file (helpers of :mod:`gearbox_db.testing.legacy`).

Each kind of problem goes into its own rows, so kinds planted together are
reported exactly as when planted alone. :class:`Planted` records where each
went and what ``--repair`` must make of it (see ``docs/importer.md``).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

__all__ = ["DROPPED", "OTHER_TIMESTAMP", "PROBLEM_KINDS", "UNCATEGORIZED", "Planted", "plant"]

#: Kinds of problems that can be planted (the importer's rule names).
PROBLEM_KINDS: Final = (
    "nul_character", "not_a_number", "negative_number", "infinite_number", "quantity_below_1",
    "unknown_value", "orphan", "duplicate", "bad_resolved_candidate", "invalid_json",
    "bad_timestamp", "bad_boolean", "bad_hash",
)  # fmt: skip
#: ``Planted.repaired`` of a row the repair drops.
DROPPED: Final = "<dropped>"
#: ``Planted.repaired`` of a reference the repair moves to ``Uncategorized``.
UNCATEGORIZED: Final = "<uncategorized>"
UNCAT: Final = UNCATEGORIZED
#: ``Planted.repaired`` of a timestamp the repair replaces with the row's other one.
OTHER_TIMESTAMP: Final = "<other timestamp>"
_MISSING: Final = 10**9


@attrs.frozen
class Planted:
    """One planted problem: where it is and what the documented repair makes of it."""

    problem: str
    table: str
    #: The row's primary key (for a session, the sha256 hex of its token).
    id: int | str
    column: str
    repaired: Any
    #: True when planting added the row (a duplicate) rather than changing one.
    added: bool = False


def _nth(conn: sqlite3.Connection, table: str, n: int, where: str = "1") -> int | None:
    """Id of the ``n``-th row of ``table`` (by id) matching ``where``, if any."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone():
        return None
    query = f"SELECT id FROM `{table}` WHERE {where} ORDER BY id LIMIT 1 OFFSET ?"  # noqa: S608
    row = conn.execute(query, (n,)).fetchone()
    return None if row is None else int(row[0])


def _set(conn: sqlite3.Connection, table: str, row_id: int | None, column: str, value: Any) -> bool:
    if row_id is None or column not in [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]:
        return False
    conn.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", (value, row_id))  # noqa: S608
    return True


def _change(
    conn: sqlite3.Connection,
    problem: str,
    target: tuple[str, int | None, str],
    value: Any,
    repaired: Any,
) -> list[Planted]:
    table, row_id, column = target
    if not _set(conn, table, row_id, column, value):
        return []
    assert row_id is not None
    return [Planted(problem, table, row_id, column, repaired)]


def _nul(conn: sqlite3.Connection) -> list[Planted]:
    row_id = _nth(conn, "items", 0)
    if row_id is None:
        return []
    (name,) = conn.execute("SELECT name FROM items WHERE id = ?", (row_id,)).fetchone()
    value = name[:2] + "\x00" + name[2:]
    return _change(conn, "nul_character", ("items", row_id, "name"), value, name)


def _orphan(conn: sqlite3.Connection) -> list[Planted]:
    unresolved = "id NOT IN (SELECT resolved_candidate_id FROM threads WHERE resolved_candidate_id)"
    candidate = _nth(conn, "thread_candidates", 1, unresolved)
    found = [
        *_change(conn, "orphan", ("items", _nth(conn, "items", 4), "category_id"), _MISSING, UNCAT),
        *_change(conn, "orphan", ("thread_candidates", candidate, "thread_id"), _MISSING, DROPPED),
        *_change(
            conn,
            "orphan",
            ("setup_items", _nth(conn, "setup_items", 0), "item_id"),
            _MISSING,
            DROPPED,
        ),
    ]
    session = conn.execute("SELECT id FROM sessions ORDER BY id LIMIT 1").fetchone()
    if session is not None:
        conn.execute("UPDATE sessions SET user_id = ? WHERE id = ?", (_MISSING, session[0]))
        token_hash = hashlib.sha256(str(session[0]).encode()).hexdigest()
        found.append(Planted("orphan", "sessions", token_hash, "user_id", DROPPED))
    return found


def _duplicate(conn: sqlite3.Connection) -> list[Planted]:
    source = _nth(conn, "setup_items", 1)
    if source is None:
        return []
    cursor = conn.execute(
        "INSERT INTO setup_items (setup_id, item_id, classification) "
        "SELECT setup_id, item_id, 'worn' FROM setup_items WHERE id = ?",
        (source,),
    )
    assert cursor.lastrowid is not None
    column = "setup_id, item_id"
    return [Planted("duplicate", "setup_items", cursor.lastrowid, column, DROPPED, added=True)]


def _resolved_candidate(conn: sqlite3.Connection) -> list[Planted]:
    thread = _nth(conn, "threads", 1)
    query = "SELECT max(id) FROM thread_candidates WHERE thread_id != ?"
    (other,) = conn.execute(query, (thread,)).fetchone() if thread else (None,)
    if other is None:
        return []
    target = ("threads", thread, "resolved_candidate_id")
    return _change(conn, "bad_resolved_candidate", target, other, None)


_PLANTERS: Final[dict[str, Callable[[sqlite3.Connection], list[Planted]]]] = {
    "nul_character": _nul,
    "not_a_number": lambda c: _change(
        c, "not_a_number", ("items", _nth(c, "items", 1), "weight_grams"), "heavy", None
    ),
    "negative_number": lambda c: _change(
        c, "negative_number", ("items", _nth(c, "items", 2), "price_cents"), -250, None
    ),
    "infinite_number": lambda c: _change(
        c,
        "infinite_number",
        ("thread_candidates", _nth(c, "thread_candidates", 0), "weight_grams"),
        float("inf"),
        None,
    ),
    "quantity_below_1": lambda c: _change(
        c, "quantity_below_1", ("items", _nth(c, "items", 3), "quantity"), 0, 1
    ),
    "unknown_value": lambda c: [
        *_change(
            c, "unknown_value", ("threads", _nth(c, "threads", 0), "status"), "gone", "active"
        ),
        *_change(
            c,
            "unknown_value",
            ("setup_items", _nth(c, "setup_items", 2), "classification"),
            "packed",
            "base",
        ),
    ],
    "orphan": _orphan,
    "duplicate": _duplicate,
    "bad_resolved_candidate": _resolved_candidate,
    "invalid_json": lambda c: _change(
        c,
        "invalid_json",
        ("oauth_clients", _nth(c, "oauth_clients", 0), "redirect_uris"),
        '["https://a.example/cb",',
        [],
    ),
    "bad_timestamp": lambda c: _change(
        c,
        "bad_timestamp",
        ("items", _nth(c, "items", 5), "created_at"),
        "yesterday",
        OTHER_TIMESTAMP,
    ),
    "bad_boolean": lambda c: _change(
        c, "bad_boolean", ("oauth_tokens", _nth(c, "oauth_tokens", 0), "revoked"), "maybe", False
    ),
    "bad_hash": lambda c: _change(
        c, "bad_hash", ("api_keys", _nth(c, "api_keys", 0), "key_hash"), "NOT-A-HASH", DROPPED
    ),
}


def plant(conn: sqlite3.Connection, kinds: Sequence[str]) -> list[Planted]:
    """Plant each of ``kinds`` (those the file's release has room for); return what was planted."""
    return [found for kind in kinds for found in _PLANTERS[kind](conn)]
