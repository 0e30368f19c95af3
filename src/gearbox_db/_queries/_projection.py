"""Row projections that measure themselves.

A statement that selects several records side by side (a thread and its
candidate, a setup, an item and two sets of totals) declares its columns as
named parts of a :class:`Projection`; the mappers cut rows with the slices
the projection computed from those columns. Adding a column to a part moves
every later slice with it: no position is counted by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["Projection"]


class Projection:
    """The selected columns of a statement, in named parts, and where each part
    sits in a row (``row[projection["item"]]``)."""

    __slots__ = ("_slices", "columns")

    def __init__(self, **parts: Sequence[Any]) -> None:
        #: Every column, part after part: ``select(*projection.columns)``.
        self.columns: tuple[Any, ...] = ()
        self._slices: dict[str, slice] = {}
        for name, columns in parts.items():
            start = len(self.columns)
            self.columns += tuple(columns)
            self._slices[name] = slice(start, len(self.columns))

    def __getitem__(self, part: str) -> slice:
        """The slice of a row that holds ``part``."""
        return self._slices[part]

    def at(self, part: str) -> int:
        """The position of ``part``'s first column (of its only one, for a single column)."""
        start: int = self._slices[part].start
        return start

    def __len__(self) -> int:
        return len(self.columns)

    def widths(self) -> dict[str, int]:
        """The number of columns of each part, in order."""
        return {name: part.stop - part.start for name, part in self._slices.items()}

    def like(self, **parts: Sequence[Any]) -> tuple[Any, ...]:
        """The columns of the same parts taken from other sources (a CTE's, a
        subquery's): ValueError unless every part has the same width."""
        other = Projection(**parts)
        if other.widths() != self.widths():
            raise ValueError(f"parts {other.widths()} do not match {self.widths()}")
        return other.columns
