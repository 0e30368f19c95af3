"""What an import found and did: problems, per-table summaries, the result, the JSON report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import attrs

__all__ = ["RULES", "ImportResult", "Problem", "TableSummary", "write_report"]

#: Every rule a value or row can break, with its explanation.
RULES: Final = {
    "nul_character": "text contains NUL characters, which PostgreSQL refuses",
    "not_text": "not valid UTF-8 text",
    "missing_value": "a required value is missing",
    "not_a_number": "not a number",
    "not_an_integer": "not a whole number",
    "negative_number": "a negative number",
    "infinite_number": "an infinite number",
    "out_of_range": "a number too large for the column",
    "quantity_below_1": "quantity below 1",
    "unknown_value": "not one of the allowed values",
    "orphan": "references a row that does not exist",
    "duplicate": "duplicates the value of a row with a lower id",
    "bad_resolved_candidate": "names a missing candidate or one of another thread",
    "invalid_json": "not a JSON array of strings",
    "bad_timestamp": "not a timestamp (epoch seconds, epoch milliseconds or ISO-8601)",
    "bad_boolean": "not a boolean (0/1, '0'/'1', 'true'/'false')",
    "bad_hash": "not a SHA-256 hex digest (64 lower-case hex digits)",
}


@attrs.frozen
class Problem:
    """One value or row that breaks a rule."""

    table: str
    #: Primary key of the row (for a session: the sha256 hex of its token).
    id: int | str | None
    column: str
    #: The offending value, shortened (``<redacted>`` for secrets).
    value: str
    #: Name of the rule broken (a key of :data:`RULES`).
    problem: str
    #: What the documented repair does (or did, under ``repair``).
    repair: str
    #: Whether the repair was applied.
    repaired: bool = False

    @property
    def message(self) -> str:
        """The rule broken, in words."""
        return RULES.get(self.problem, self.problem)

    def as_json(self) -> dict[str, Any]:
        """The problem as a JSON object of the ``--report`` file."""
        fields = attrs.asdict(self)
        fields["message"] = self.message
        return fields

    def line(self) -> str:
        """One line for a terminal."""
        done = "repaired: " if self.repaired else "repair would be: "
        return (
            f"{self.table} {self.id} {self.column} = {self.value}: {self.message} "
            f"({done}{self.repair})"
        )


@attrs.define
class TableSummary:
    """Counts and time of one table."""

    table: str
    read: int = 0
    written: int = 0
    repaired: int = 0
    dropped: int = 0
    seconds: float = 0.0
    #: Rows counted in the target after the import (``None`` when nothing was written).
    verified: int | None = None


@attrs.define
class ImportResult:
    """Outcome of :func:`gearbox_db.importer.import_sqlite`."""

    source: Path
    tables: list[TableSummary]
    problems: list[Problem]
    #: Whether the data was committed to the target.
    written: bool
    dry_run: bool
    repair: bool
    seconds: float = 0.0
    #: Id of the ``Uncategorized`` category in the target.
    uncategorized_id: int | None = None

    @property
    def ok(self) -> bool:
        """True when the file imported (or, for a dry run, would import) as asked."""
        return self.repair or not self.problems

    @property
    def rows_read(self) -> int:
        """Rows read from the file, all tables."""
        return sum(table.read for table in self.tables)

    @property
    def rows_written(self) -> int:
        """Rows written (or, for a dry run, to be written), all tables."""
        return sum(table.written for table in self.tables)

    def summary_lines(self) -> list[str]:
        """The per-table summary as aligned lines of text (a dry run's says what it would do)."""
        written, repaired, dropped = (
            ("to write", "to repair", "to drop")
            if self.dry_run
            else ("written", "repaired", "dropped")
        )
        head = f"{'table':<18} {'read':>9} {written:>9} {repaired:>9} {dropped:>8} {'s':>7}"
        lines = [head]
        for t in self.tables:
            check = "" if t.verified is None else f"  verified {t.verified}"
            lines.append(
                f"{t.table:<18} {t.read:>9} {t.written:>9} {t.repaired:>9} {t.dropped:>8} "
                f"{t.seconds:>7.2f}{check}"
            )
        lines.append(
            f"{'total':<18} {self.rows_read:>9} {self.rows_written:>9} "
            f"{sum(t.repaired for t in self.tables):>9} "
            f"{sum(t.dropped for t in self.tables):>8} {self.seconds:>7.2f}"
        )
        return lines


def write_report(path: str | Path, problems: Sequence[Problem]) -> None:
    """Write ``problems`` to ``path`` as a JSON array (UTF-8)."""
    text = json.dumps([p.as_json() for p in problems], ensure_ascii=False, indent=2)
    Path(path).write_text(text + "\n", encoding="utf-8")
