"""Generator of legacy GearBox SQLite files, for tests, benchmarks and demos.

Files look like the ones the old application wrote (``legacy_v1.sql`` beside
this module is their newest schema): realistic rows in every table, sizes
proportional to the number of items, a few gaps in the ids, ``sqlite_sequence``
a little above ``MAX(id)``. Options: an older release (missing tables and
columns), hostile-but-valid text, timestamps in seconds / milliseconds / ISO
text, WAL journal mode, and planted problems of each kind the importer reports.

From Python::

    from gearbox_db.testing import legacy
    made = legacy.generate("gearbox.db", legacy.Spec(items=500, problems={"orphan"}))
    made.counts, made.planted

From a shell::

    python -m gearbox_db.testing.legacy OUT.db --items 500 --release 0005 --hostile
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final

import attrs

from gearbox_db.testing._legacy_plant import PROBLEM_KINDS, Planted, plant
from gearbox_db.testing._legacy_rows import RowMaker, Sizes

__all__ = [
    "LATEST",
    "PROBLEM_KINDS",
    "RELEASES",
    "TABLES",
    "Generated",
    "Planted",
    "Spec",
    "columns_of",
    "create",
    "generate",
    "insert",
    "main",
]

#: Legacy releases a file can be generated as, oldest first.
RELEASES: Final = ("0003", "0004", "0005", "0006", "0007", "0008", "0012")
LATEST: Final = RELEASES[-1]
#: The data tables, in the order they are written (parents first).
TABLES: Final = (
    "categories", "items", "threads", "thread_candidates", "setups", "setup_items", "users",
    "sessions", "api_keys", "oauth_clients", "oauth_codes", "oauth_tokens", "settings",
)  # fmt: skip
#: Release that added a table (absent: there from the start).
_TABLE_ADDED: Final = {
    "settings": "0006",
    "api_keys": "0007",
    "oauth_clients": "0008",
    "oauth_codes": "0008",
    "oauth_tokens": "0008",
}
#: Release that added a column.
_COLUMN_ADDED: Final = {
    ("items", "quantity"): "0004",
    ("items", "image_source_url"): "0004",
    ("thread_candidates", "status"): "0005",
    ("thread_candidates", "pros"): "0005",
    ("thread_candidates", "cons"): "0005",
    ("thread_candidates", "sort_order"): "0005",
}
#: Release that added the unique indexes of the OAuth tables.
_OAUTH_UNIQUE: Final = "0012"
_NAME: Final = re.compile(r"(?:TABLE|INDEX) `(\w+)`(?: ON `(\w+)`)?")
_COLUMN: Final = re.compile(r"^\s*`(\w+)`")


def _kinds(kinds: Iterable[str]) -> frozenset[str]:
    return frozenset(kinds)


@attrs.frozen
class Spec:
    """What to generate.

    ``timestamps`` lists the encodings to mix: ``s`` (epoch seconds, as the
    app wrote them), ``ms`` (epoch milliseconds) and ``iso`` (ISO-8601 text).
    ``problems`` names kinds of :data:`PROBLEM_KINDS` to plant (a few rows each).
    """

    items: int = 50
    seed: int = 0
    release: str = LATEST
    hostile: bool = False
    timestamps: tuple[str, ...] = ("s",)
    problems: frozenset[str] = attrs.field(default=frozenset(), converter=_kinds)
    #: Whether category 1 is the app's own ``Uncategorized``.
    uncategorized: bool = True
    wal: bool = False

    def __attrs_post_init__(self) -> None:
        if self.release not in RELEASES:
            raise ValueError(f"unknown release {self.release!r}; known: {', '.join(RELEASES)}")
        unknown = self.problems - set(PROBLEM_KINDS)
        if unknown:
            raise ValueError(f"unknown problem kinds {sorted(unknown)}; known: {PROBLEM_KINDS}")


@attrs.frozen
class Generated:
    """A generated file: its path, row counts per table, and the problems planted in it."""

    path: Path
    counts: Mapping[str, int]
    planted: Sequence[Planted]


def _has(release: str, added: str | None) -> bool:
    return added is None or release >= added


def _statements(release: str) -> list[str]:
    """The DDL statements of ``release``, from the newest schema."""
    text = resources.files(__package__).joinpath("legacy_v1.sql").read_text("utf-8")
    text = re.sub(r"--[^\n]*", "", text)
    kept = []
    for statement in filter(None, (s.strip() for s in text.split(";"))):
        match = _NAME.search(statement)
        assert match is not None, statement
        table = match.group(2) or match.group(1)
        if not _has(release, _TABLE_ADDED.get(table)):
            continue
        if "UNIQUE INDEX `oauth" in statement and not _has(release, _OAUTH_UNIQUE):
            continue
        lines = statement.splitlines()
        kept.append("\n".join(line for line in lines if _keeps(release, table, line)))
    return kept


def _keeps(release: str, table: str, line: str) -> bool:
    column = _COLUMN.match(line)
    return column is None or _has(release, _COLUMN_ADDED.get((table, column.group(1))))


def create(path: str | Path, release: str = LATEST) -> sqlite3.Connection:
    """Create an empty legacy file of ``release`` at ``path``; return a connection to it."""
    Path(path).unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = MEMORY")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    for statement in _statements(release):
        conn.execute(statement)
    conn.executemany(
        "INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)",
        [(f"{n:04d}_{'ab' * 30}", 1_700_000_000_000 + n) for n in range(int(release) + 1)],
    )
    conn.execute("COMMIT")
    return conn


def columns_of(conn: sqlite3.Connection, table: str) -> list[str]:
    """Columns of ``table`` in the file (empty when the file lacks the table)."""
    return [row[1] for row in conn.execute(f"PRAGMA table_info(`{table}`)")]


def insert(conn: sqlite3.Connection, table: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert ``rows`` into ``table``, keeping the columns the file has; return the count."""
    columns = columns_of(conn, table)
    if not columns:
        return 0
    names, marks = ", ".join(f"`{c}`" for c in columns), ", ".join("?" * len(columns))
    cursor = conn.executemany(
        f"INSERT INTO `{table}` ({names}) VALUES ({marks})",  # noqa: S608 - our own names
        (tuple(row.get(c) for c in columns) for row in rows),
    )
    return max(cursor.rowcount, 0)


def generate(path: str | Path, spec: Spec = Spec()) -> Generated:
    """Write a legacy file as ``spec`` says; overwrite ``path`` if it exists."""
    conn = create(path, spec.release)
    rng = random.Random(spec.seed)
    maker = RowMaker(rng, Sizes(spec.items), spec.hostile, spec.timestamps, spec.uncategorized)
    try:
        conn.execute("BEGIN")
        counts = {table: insert(conn, table, getattr(maker, table)()) for table in TABLES}
        for table in TABLES:  # rows deleted at the end of a table leave the sequence ahead
            bump = "UPDATE sqlite_sequence SET seq = seq + ? WHERE name = ?"
            conn.execute(bump, (rng.randrange(4), table))
        planted = plant(conn, sorted(spec.problems))
        conn.execute("COMMIT")
        for item in planted:
            if item.added:
                counts[item.table] += 1
        if spec.wal:
            conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()
    return Generated(Path(path), counts, planted)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gearbox_db.testing.legacy",
        description="Write a legacy GearBox SQLite file with realistic (or broken) data.",
    )
    parser.add_argument("out", metavar="OUT.db", type=Path, help="file to write (overwritten)")
    parser.add_argument("--items", type=int, default=50, help="number of items (default: 50)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--release", choices=RELEASES, default=LATEST, help="legacy release")
    parser.add_argument("--hostile", action="store_true", help="mix in hostile-but-valid text")
    parser.add_argument(
        "--timestamps",
        default="s",
        help="comma-separated encodings to mix: s, ms, iso (default: s)",
    )
    parser.add_argument(
        "--problem",
        action="append",
        default=[],
        choices=(*PROBLEM_KINDS, "all"),
        help="plant a problem of this kind (repeatable; 'all' plants every kind)",
    )
    parser.add_argument("--wal", action="store_true", help="leave the file in WAL journal mode")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; prints the row counts and the planted problems."""
    args = _parser().parse_args(argv)
    chosen: list[str] = list(PROBLEM_KINDS) if "all" in args.problem else args.problem
    spec = Spec(
        items=args.items,
        seed=args.seed,
        release=args.release,
        hostile=args.hostile,
        timestamps=tuple(args.timestamps.split(",")),
        problems=frozenset(chosen),
        wal=args.wal,
    )
    made = generate(args.out, spec)
    total = sum(made.counts.values())
    print(f"wrote {made.path}: {total} rows (release {spec.release})")
    for item in made.planted:
        print(f"  planted {item.problem}: {item.table} {item.id} {item.column}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
