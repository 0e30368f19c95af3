"""One import, table by table: read, judge, write, then continue identities and verify."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import attrs

from gearbox_db.importer import _convert as cv
from gearbox_db.importer._errors import ImportFailedError
from gearbox_db.importer._progress import Progress
from gearbox_db.importer._repair import RowChecker
from gearbox_db.importer._report import Problem, TableSummary
from gearbox_db.importer._source import Source, Undecodable
from gearbox_db.importer._sql import fast_query, slow_query
from gearbox_db.importer._tables import TABLES, Table, by_name
from gearbox_db.importer._writer import NullWriter, Rejected, RowWriter, Writer
from gearbox_db.schema import UNCATEGORIZED

__all__ = ["Job"]

#: Tables other tables reference, whose kept keys are remembered (they are small).
_REFERENCED: frozenset[str] = frozenset(
    column.ref for table in TABLES for column in table.columns if column.ref is not None
)


_OPTIMISTIC, _STRICT, _PYTHON = "optimistic", "strict", "python"
#: Tests only: start every table at this pass (``"strict"`` or ``"python"``).
FIRST_PASS: str | None = None


def _posted(row: tuple[Any, ...], posts: list[tuple[int, cv.Converter]]) -> tuple[Any, ...]:
    values = list(row)
    for index, post in posts:
        values[index] = post(values[index])
    return tuple(values)


def _now_micros() -> int:
    return round((time.time() - cv.PG_EPOCH) * 1_000_000)


@attrs.define
class Job:
    """The state of one import: what was read, written, dropped and found wrong."""

    source: Source
    writer: Writer | NullWriter
    repair: bool
    progress: Progress
    now: int = attrs.field(factory=_now_micros)
    tables: list[TableSummary] = attrs.field(factory=list)
    problems: list[Problem] = attrs.field(factory=list)
    uncategorized: int | None = None
    _dropped: defaultdict[str, set[Any]] = attrs.field(factory=lambda: defaultdict(set))
    _kept: defaultdict[str, set[Any]] = attrs.field(factory=lambda: defaultdict(set))

    # -- Parents, for the RowChecker ---------------------------------------------

    def imported(self, table: str, key: Any) -> bool:
        """Whether the row of ``table`` with this key is (to be) imported."""
        if key is None:
            return False
        if not by_name(table).fast:
            return key in self._kept[table]
        if type(key) is not int or key in self._dropped[table]:
            return False
        return self.source.exists(table, key)

    def thread_of_candidate(self, candidate_id: int) -> int | None:
        """The thread id the candidate names, if there is such a candidate."""
        return self.source.thread_of_candidate(candidate_id)

    # -- the import ----------------------------------------------------------------

    def run(self) -> None:
        """Read, judge and write every table, parents first."""
        for table in TABLES:
            self._table(table)

    def _table(self, table: Table) -> None:
        started = time.perf_counter()
        total = self.source.count(table.name)
        self.progress.table_started(table.name, total)
        summary = TableSummary(table.name)
        if table.name in self.source.columns:
            summary = self._passes(table, total)
        if table.name == "categories":
            self._ensure_uncategorized(summary)
        if self.problems and not self.repair:
            self.writer = NullWriter()  # doomed to roll back: stop writing, keep judging
        summary.seconds = time.perf_counter() - started
        self.tables.append(summary)
        self.progress.table_finished(summary)

    def _passes(self, table: Table, total: int) -> TableSummary:
        """Read ``table`` optimistically, strictly if refused, through Python if undecodable."""
        writing = isinstance(self.writer, Writer)
        mode = _OPTIMISTIC if writing and table.fast else _STRICT
        if FIRST_PASS is not None and FIRST_PASS != _OPTIMISTIC:
            mode = FIRST_PASS
        if not table.needs <= self.source.columns.keys():  # a hand-made file: no fast path
            mode = _PYTHON
        while True:
            mark, summary = len(self.problems), TableSummary(table.name)
            try:
                with self.writer.savepoint():
                    self._stream(table, summary, mode, total)
                return summary
            except Rejected as refused:
                if mode != _OPTIMISTIC:
                    raise ImportFailedError(
                        f"PostgreSQL refused a row of {table.name} that the "
                        f"importer accepted (a bug): {refused}"
                    ) from refused
                mode = _STRICT
            except Undecodable:
                mode = _PYTHON
            self._forget(table, mark)

    def _forget(self, table: Table, mark: int) -> None:
        """Forget what a pass that is to be read again found in ``table``."""
        del self.problems[mark:]
        self._dropped.pop(table.name, None)
        self._kept.pop(table.name, None)
        if table.name == "categories":
            self.uncategorized = None

    def _stream(self, table: Table, summary: TableSummary, mode: str, total: int) -> None:
        present = self.source.columns[table.name]
        with self.writer.copy(table) as write:
            if table.fast and mode != _PYTHON:
                query = fast_query(table, present, self._dropped, strict=mode == _STRICT)
                self._fast(table, query, write, summary)
            if summary.read < total:
                strict = None if mode == _PYTHON else mode == _STRICT
                query = slow_query(table, present, self._dropped, strict=strict)
                self._slow(table, query, write, summary, tolerant=mode == _PYTHON)

    def _fast(self, table: Table, query: str, write: RowWriter, summary: TableSummary) -> None:
        posts = [(i, col.kind.post) for i, col in enumerate(table.columns) if col.kind.post]
        for batch in self.source.batches(query):
            for row in batch:
                if posts:
                    row = _posted(row, posts)
                write(row)
            self._advance(summary, len(batch), len(batch))

    def _slow(
        self, table: Table, query: str, write: RowWriter, summary: TableSummary, tolerant: bool
    ) -> None:
        checker = RowChecker(table, self, self.now, self.uncategorized)
        for batch in self.source.batches(query, tolerant=tolerant):
            written = sum(self._judge(table, checker, raw, write, summary) for raw in batch)
            self._advance(summary, len(batch), written)

    def _advance(self, summary: TableSummary, read: int, written: int) -> None:
        summary.read += read
        summary.written += written
        self.progress.advanced(summary.table, read)

    def _judge(
        self, table: Table, checker: RowChecker, raw: Any, write: RowWriter, summary: TableSummary
    ) -> int:
        """Judge one Python-path row, write it if it may be written; return rows written."""
        verdict = checker.check(raw)
        if verdict.problems:
            self.problems += [attrs.evolve(p, repaired=self.repair) for p in verdict.problems]
        if verdict.row is None:
            summary.dropped += 1
            if "id" in table.names:
                self._dropped[table.name].add(raw[table.names.index("id")])
            return 0
        if table.name in _REFERENCED and not table.fast:
            self._kept[table.name].add(verdict.row[table.names.index(table.ref_key)])
        if table.name == "categories" and verdict.row[table.names.index("name")] == UNCATEGORIZED:
            self.uncategorized = verdict.row[table.names.index("id")]
        if verdict.problems:
            summary.repaired += 1
        # Without ``repair`` the repaired row is written too, so that the rest of
        # the table is judged as under ``repair``; the transaction is rolled back.
        write(verdict.row)
        return 1

    def _ensure_uncategorized(self, summary: TableSummary) -> None:
        """Give the import an ``Uncategorized`` category if the file has none."""
        if self.uncategorized is not None:
            return
        self.uncategorized = self.source.highest_id("categories") + 1
        self._kept["categories"].add(self.uncategorized)
        summary.written += 1
        if isinstance(self.writer, Writer):
            self.writer.add_category(self.uncategorized, UNCATEGORIZED)

    def finish(self, writer: Writer) -> None:
        """Restore the foreign keys, continue every identity above the file's ids, verify."""
        writer.restore_indexes()
        writer.restore_foreign_keys()  # validates every reference
        writer.check_constraints()  # nothing deferred may be left for the commit to fail on
        writer.restore_totals()
        for table in TABLES:
            if table.identity:
                highest = self.source.highest_id(table.name)
                if table.name == "categories":
                    highest = max(highest, self.uncategorized or 0)
                writer.restart_identity(table.name, highest + 1)
        for summary in self.tables:
            summary.verified = writer.count(summary.table)
            if summary.verified != summary.written:
                raise ImportFailedError(
                    f"verification failed: {summary.table} has {summary.verified} rows in the "
                    f"target, {summary.written} were written"
                )
