"""Progress of an import: a bar on a terminal, plain log lines elsewhere.

Any object with the three methods of :class:`Progress` can watch an import
(tests use one to act at a precise moment of it).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

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
    """A progress bar (rich) as wide as the terminal, with rows per second and time left.

    Redrawn in place at most ten times a second; each table's bar is replaced
    by its :class:`LogLines` line when it is done. Needs ``rich``
    (``gearbox-db[progress]``); :func:`for_stream` falls back to log lines
    without it.
    """

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress
        from rich.table import Column

        self.stream = stream
        # The bar takes what the figures leave of the terminal's width.
        self._bar = RichProgress(
            TextColumn("{task.description}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=None, table_column=Column(ratio=1)),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[rate]}", table_column=Column(no_wrap=True)),
            TimeRemainingColumn(table_column=Column(no_wrap=True)),
            console=Console(file=stream),
            auto_refresh=False,
            transient=True,
            expand=True,
            get_time=clock,
        )
        self._clock = clock
        self._task: Any = None
        self._drawn = -1.0

    def table_started(self, table: str, total: int) -> None:
        """Start a bar for ``table``."""
        self._bar.start()
        self._task = self._bar.add_task(table, total=total, rate="")
        self._bar.refresh()

    def advanced(self, table: str, rows: int) -> None:
        """Move the bar."""
        self._bar.advance(self._task, rows)
        now = self._clock()
        if now - self._drawn >= 0.1:
            self._drawn = now
            speed = next(task.speed for task in self._bar.tasks if task.id == self._task)
            rate = f"{speed:,.0f} rows/s" if speed else ""
            self._bar.update(self._task, rate=rate)
            self._bar.refresh()

    def table_finished(self, summary: TableSummary) -> None:
        """Replace the bar with the table's line."""
        self.close()
        LogLines(self.stream).table_finished(summary)

    def close(self) -> None:
        """Remove the bar and give the terminal back (also when the import fails)."""
        if self._task is not None:
            self._bar.remove_task(self._task)
            self._task = None
        self._bar.stop()


def for_stream(stream: TextIO | None = None) -> Progress:
    """A bar when ``stream`` (default: stderr) is a terminal and rich is installed,
    else log lines."""
    stream = stream or sys.stderr
    if not stream.isatty() or importlib.util.find_spec("rich") is None:
        return LogLines(stream)
    return Bar(stream)
