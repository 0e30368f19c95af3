"""Reading a legacy GearBox SQLite file, strictly read-only.

The file is opened with a ``file:...?mode=ro`` URI and ``query_only``, and
read inside one read transaction (a consistent snapshot even if the old
application is still running). A file in WAL mode is read with its WAL,
never checkpointed. Only the GearBox tables are read: ``__drizzle_migrations``
and SQLite's own ``sqlite_*`` tables are not data. Every SQLite error
becomes a one-line :class:`SourceError`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote

from gearbox_db.importer import _convert as cv
from gearbox_db.importer._errors import SourceError
from gearbox_db.importer._sql import INT_UDF
from gearbox_db.importer._tables import TABLES

__all__ = ["Source", "Undecodable"]

_BATCH: Final = 4096


class Undecodable(Exception):  # noqa: N818 - internal signal, never leaves the package
    """A text value of the current query is not valid UTF-8 (retry tolerantly)."""


def _tolerant(raw: bytes) -> str | bytes:
    """Text factory that returns undecodable text as bytes (judged by ``_convert.text``)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _explain(path: Path, exc: sqlite3.Error) -> SourceError:
    message = str(exc)
    lowered = message.lower()
    if "not a database" in lowered:
        reason = "not a SQLite database"
    elif "locked" in lowered or "busy" in lowered:
        reason = "the file is locked by another process (stop GearBox and try again)"
    elif "malformed" in lowered or "corrupt" in lowered:
        reason = f"the SQLite file is corrupt ({message})"
    else:
        reason = f"cannot read it ({message})"
    error = SourceError(f"{path}: {reason}")
    error.__cause__ = exc
    return error


class Source:
    """An open legacy file: which GearBox tables and columns it has, and its rows."""

    def __init__(self, path: str | Path, *, timeout: float = 5.0) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise SourceError(f"{self.path}: no such file")
        if not self.path.is_file():
            raise SourceError(f"{self.path}: not a file")
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        try:
            self._conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise _explain(self.path, exc) from exc
        try:
            self.columns = self._start()
        except BaseException:
            self._conn.close()
            raise

    def _start(self) -> Mapping[str, list[str]]:
        """Begin the read transaction; return the GearBox tables with their columns."""
        conn = self._conn
        conn.create_function(INT_UDF, 1, cv.reference, deterministic=True)
        try:
            conn.execute("PRAGMA query_only = 1")
            conn.execute("BEGIN")
            names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            found = {
                table.name: [row[1] for row in conn.execute(f'PRAGMA table_info("{table.name}")')]
                for table in TABLES
                if table.name in names
            }
        except sqlite3.Error as exc:
            raise _explain(self.path, exc) from exc
        if not found:
            raise SourceError(f"{self.path}: no GearBox table in this SQLite file")
        return found

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """End the read transaction and close the file."""
        self._conn.close()

    def _one(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        try:
            row = self._conn.execute(query, params).fetchone()
        except sqlite3.Error as exc:
            raise _explain(self.path, exc) from exc
        return None if row is None else row[0]

    def count(self, table: str) -> int:
        """Rows of ``table`` (0 when the file lacks it)."""
        if table not in self.columns:
            return 0
        return int(self._one(f'SELECT count(*) FROM "{table}"'))  # noqa: S608 - our names

    def highest_id(self, table: str) -> int:
        """The larger of ``MAX(id)`` and the ``sqlite_sequence`` value of ``table`` (or 0)."""
        if table not in self.columns or "id" not in self.columns[table]:
            return 0
        query = f"SELECT max(id) FROM \"{table}\" WHERE typeof(id) = 'integer'"  # noqa: S608
        top = self._one(query) or 0
        has_sequence = self._one("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
        sequence = 0
        if has_sequence:
            found = self._one("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,))
            sequence = found if type(found) is int else 0
        return max(int(top), sequence)

    def batches(self, query: str, *, tolerant: bool = False) -> Iterator[list[Any]]:
        """Rows of ``query`` in lists of up to a few thousand."""
        self._conn.text_factory = _tolerant if tolerant else str
        try:
            cursor = self._conn.execute(query)
            while batch := cursor.fetchmany(_BATCH):
                yield batch
        except sqlite3.OperationalError as exc:
            if "decode" in str(exc).lower():
                raise Undecodable(str(exc)) from exc
            raise _explain(self.path, exc) from exc
        except sqlite3.Error as exc:
            raise _explain(self.path, exc) from exc

    def exists(self, table: str, row_id: int) -> bool:
        """Whether ``table`` has a row with this ``id``."""
        if table not in self.columns:
            return False
        query = f'SELECT 1 FROM "{table}" WHERE id = ?'  # noqa: S608 - our own table names
        return self._one(query, (row_id,)) is not None

    def thread_of_candidate(self, candidate_id: int) -> int | None:
        """The thread a candidate names (as Python reads it), ``None`` if no such candidate."""
        if "thread_candidates" not in self.columns:
            return None
        query = "SELECT thread_id FROM thread_candidates WHERE id = ?"
        try:
            row = self._conn.execute(query, (candidate_id,)).fetchone()
        except sqlite3.Error as exc:
            raise _explain(self.path, exc) from exc
        return None if row is None else cv.reference(row[0])
