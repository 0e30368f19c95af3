"""Progress of an import: a bar on a terminal, plain log lines elsewhere.

Any object with the three methods of :class:`Progress` can watch an import
(tests use one to act at a precise moment of it).
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO

from gearbox_db.importer._report import TableSummary

__all__ = ["Bar", "LogLines", "Progress", "Silent", "for_stream"]


class Progress(Protocol):
    """Watches an import, table by table."""

    def table_started(self, table: str, total: int) -> None:
        """``table`` starts; the file holds ``total`` rows of it."""
        ...

    def advanced(self, table: str, rows: int) -> None:
        """``rows`` more rows of ``table`` were read (and written, unless a dry run)."""
        ...

    def table_finished(self, summary: TableSummary) -> None:
        """``table`` is done."""
        ...


class Silent:
    """Says nothing."""

    def table_started(self, table: str, total: int) -> None:
        """Nothing."""

    def advanced(self, table: str, rows: int) -> None:
        """Nothing."""

    def table_finished(self, summary: TableSummary) -> None:
        """Nothing."""


class LogLines:
    """One line per table as it finishes (for logs, pipes and CI)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def table_started(self, table: str, total: int) -> None:
        """Nothing yet: the line comes when the table is done."""

    def advanced(self, table: str, rows: int) -> None:
        """Nothing: no line per batch."""

    def table_finished(self, summary: TableSummary) -> None:
        """``table: N read, N written, N repaired, N dropped in S s``."""
        print(
            f"import {summary.table}: {summary.read} read, {summary.written} written, "
            f"{summary.repaired} repaired, {summary.dropped} dropped in {summary.seconds:.2f} s",
            file=self.stream,
            flush=True,
        )


class Bar:
    """A progress bar redrawn in place, at most ten times a second."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._table = ""
        self._total = 0
        self._done = 0
        self._drawn = 0.0

    def table_started(self, table: str, total: int) -> None:
        """Start a bar for ``table``."""
        self._table, self._total, self._done = table, total, 0
        self._draw(force=True)

    def advanced(self, table: str, rows: int) -> None:
        """Move the bar."""
        self._done += rows
        self._draw()

    def table_finished(self, summary: TableSummary) -> None:
        """Replace the bar with the table's line."""
        self.stream.write("\r\x1b[2K")
        LogLines(self.stream).table_finished(summary)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < 0.1:
            return
        self._drawn = now
        share = min(self._done / self._total, 1.0) if self._total else 1.0
        filled = round(share * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r{self._table:<18} [{bar}] {self._done}/{self._total}")
        self.stream.flush()


def for_stream(stream: TextIO | None = None) -> Progress:
    """A bar when ``stream`` (default: stderr) is a terminal, else log lines."""
    stream = stream or sys.stderr
    return Bar(stream) if stream.isatty() else LogLines(stream)
