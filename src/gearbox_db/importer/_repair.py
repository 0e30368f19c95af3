"""The Python path: judge one row, report its problems, and repair it.

A row reaches this path when SQLite could not vouch for it (see ``_sql``).
Every value goes through its converter; then the row-level rules run:
orphans, duplicates, and ``resolved_candidate_id``. Each problem becomes a
:class:`Problem` naming the documented repair; under ``repair`` the repaired
row is returned (or ``None`` when the repair drops it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import attrs

from gearbox_db.importer import _convert as cv
from gearbox_db.importer._report import Problem
from gearbox_db.importer._tables import Column, Table

__all__ = ["Parents", "RowChecker", "Verdict"]


class Parents(Protocol):
    """What the checker may ask about other tables."""

    def imported(self, table: str, key: Any) -> bool:
        """Whether the row of ``table`` with this key (``id`` or ``client_id``) is imported."""
        ...

    def thread_of_candidate(self, candidate_id: int) -> int | None:
        """The thread id the candidate names, ``None`` when there is no such candidate."""
        ...


@attrs.frozen
class _Issue:
    index: int
    raw: Any
    rule: str
    fix: Any


@attrs.frozen
class Verdict:
    """A judged row: the repaired row (``None``: the repair drops it) and its problems."""

    row: tuple[Any, ...] | None
    problems: list[Problem]
    dropped: bool


_REPAIRS = {
    "nul_character": "NUL characters removed",
    "not_text": "decoded as UTF-8, bad bytes replaced",
    "duplicate": "row dropped (the row with the lowest id is kept)",
}


def _describe(issue: _Issue) -> str:
    if (issue.rule in _REPAIRS and issue.fix is not cv.DROP_ROW) or issue.rule == "duplicate":
        return _REPAIRS[issue.rule]
    if issue.fix is cv.DROP_ROW:
        return "row dropped"
    if issue.fix is None:
        return "set to NULL"
    if issue.fix == []:
        return "set to an empty array"
    if issue.rule == "orphan":
        return f"moved to Uncategorized (id {issue.fix})"
    if isinstance(issue.fix, bool):
        return f"set to {str(issue.fix).lower()}"
    return f"set to {cv.shorten(issue.fix)}"


@attrs.define
class RowChecker:
    """Judges the Python-path rows of one table."""

    table: Table
    parents: Parents
    #: Import time (microseconds since 2000), the last resort for a bad timestamp.
    now: int
    #: Id of ``Uncategorized`` (orphaned gear moves there).
    uncategorized: int | None = None
    _seen: dict[int, set[Any]] = attrs.field(factory=dict)

    def check(self, raw: Sequence[Any]) -> Verdict:
        """Judge one row of raw values (in column order, then ``rn`` if the table has one)."""
        columns = self.table.columns
        values = list(raw[: len(columns)])
        issues: list[_Issue] = []
        for index, column in enumerate(columns):
            try:
                values[index] = column.kind.convert(values[index])
            except cv.Invalid as bad:
                issues.append(_Issue(index, raw[index], bad.rule, bad.fix))
                values[index] = bad.fix
        issues += self._row_rules(raw, values)
        return self._verdict(raw, values, issues)

    def _row_rules(self, raw: Sequence[Any], values: list[Any]) -> list[_Issue]:
        found = [*self._orphans(raw, values), *self._resolved(raw, values)]
        if self.table.unique_pair is not None and raw[len(self.table.columns)] != 1:
            index = self.table.names.index(self.table.unique_pair[1])
            pair = tuple(raw[self.table.names.index(n)] for n in self.table.unique_pair)
            found.append(_Issue(index, pair, "duplicate", cv.DROP_ROW))
        return found

    def _orphans(self, raw: Sequence[Any], values: list[Any]) -> list[_Issue]:
        found = []
        for index, column in enumerate(self.table.columns):
            if column.ref is None or self.parents.imported(column.ref, values[index]):
                continue
            fix = self.uncategorized if column.orphan == "uncategorized" else cv.DROP_ROW
            found.append(_Issue(index, raw[index], "orphan", fix))
            values[index] = fix
        return found

    def _resolved(self, raw: Sequence[Any], values: list[Any]) -> list[_Issue]:
        if "resolved_candidate_id" not in self.table.names:
            return []
        index = self.table.names.index("resolved_candidate_id")
        candidate = values[index]
        if candidate is None:
            return []
        if self.parents.thread_of_candidate(candidate) == values[self.table.names.index("id")]:
            return []
        values[index] = None
        return [_Issue(index, raw[index], "bad_resolved_candidate", None)]

    def _verdict(self, raw: Sequence[Any], values: list[Any], issues: list[_Issue]) -> Verdict:
        dropped = any(issue.fix is cv.DROP_ROW for issue in issues)
        if not dropped:
            duplicate = self._duplicate(raw, values)
            if duplicate is not None:
                issues.append(duplicate)
                dropped = True
        repairs = [self._fill(issue, values) for issue in issues]
        key = self._key(values)
        problems = [
            self._problem(key, issue, repair, dropped)
            for issue, repair in zip(issues, repairs, strict=True)
        ]
        if dropped:
            return Verdict(None, problems, True)
        self._claim(values)
        return Verdict(tuple(values), problems, False)

    def _duplicate(self, raw: Sequence[Any], values: list[Any]) -> _Issue | None:
        for index, column in enumerate(self.table.columns):
            value = values[index]
            if column.unique and value is not None and value in self._seen.get(index, ()):
                return _Issue(index, raw[index], "duplicate", cv.DROP_ROW)
        return None

    def _claim(self, values: list[Any]) -> None:
        for index, column in enumerate(self.table.columns):
            if column.unique and values[index] is not None:
                self._seen.setdefault(index, set()).add(values[index])

    def _fill(self, issue: _Issue, values: list[Any]) -> str:
        """Apply the repair of ``issue`` to ``values`` (already done but for timestamps)."""
        if issue.fix is cv.OTHER_TIMESTAMP:
            return self._other_timestamp(issue.index, self.table.columns[issue.index], values)
        return _describe(issue)

    def _other_timestamp(self, index: int, column: Column, values: list[Any]) -> str:
        for other in column.fallback:
            value = values[self.table.names.index(other)]
            if type(value) is int:
                values[index] = value
                return f"set to {other}"
        values[index] = self.now
        return "set to the import time"

    def _key(self, values: list[Any]) -> int | str | None:
        value = values[self.table.names.index(self.table.key)]
        return value if isinstance(value, int | str) else None

    def _problem(self, key: int | str | None, issue: _Issue, repair: str, dropped: bool) -> Problem:
        column = self.table.columns[issue.index]
        name = column.name
        shown = "<redacted>" if column.secret else cv.shorten(issue.raw)
        if issue.rule == "duplicate" and self.table.unique_pair is not None:
            name = ", ".join(self.table.unique_pair)
        if dropped and issue.fix is not cv.DROP_ROW:
            repair = f"{repair}; row dropped anyway"
        return Problem(self.table.name, key, name, shown, issue.rule, repair)
