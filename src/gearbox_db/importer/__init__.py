"""Import a legacy GearBox SQLite file into PostgreSQL, losing nothing.

::

    from gearbox_db.importer import import_sqlite
    result = import_sqlite("gearbox.db", "postgresql://app@db/gearbox")
    result.written, result.problems, result.summary_lines()

The file is opened read-only and never modified. Every row is validated
(and, with ``repair=True``, repaired as documented in ``docs/importer.md``);
every problem is reported, not just the first. The whole import is one
transaction: with problems and no ``repair``, or on any failure, nothing is
written. Ids are kept, identities continue above the file's ids, raw secrets
are hashed, timestamps and doubles round-trip exactly. The command line is
``gearbox-db import-sqlite`` (:mod:`gearbox_db.importer.cli`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import attrs
import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from gearbox_db import _connections
from gearbox_db.importer._errors import ImportFailedError, SourceError, TargetNotEmptyError
from gearbox_db.importer._progress import Bar, LogLines, Progress, Silent, for_stream
from gearbox_db.importer._report import RULES, ImportResult, Problem, TableSummary, write_report
from gearbox_db.importer._run import Job
from gearbox_db.importer._source import Source
from gearbox_db.importer._writer import NullWriter, Writer

__all__ = [
    "APPLICATION_NAME",
    "RULES",
    "Bar",
    "ImportFailedError",
    "ImportResult",
    "LogLines",
    "Problem",
    "Progress",
    "Silent",
    "SourceError",
    "TableSummary",
    "TargetNotEmptyError",
    "for_stream",
    "import_sqlite",
    "write_report",
]

#: ``application_name`` of the importer's connection (visible in ``pg_stat_activity``).
APPLICATION_NAME: Final = "gearbox-db import-sqlite"

#: Where to import: a URL, an ``Engine`` or a ``Connection`` (its transaction kept open).
Target = _connections.Target


class _Abandon(Exception):  # noqa: N818 - internal: roll back, then return the result
    """Problems were found and not repaired: roll the transaction back."""

    def __init__(self, job: Job) -> None:
        super().__init__("abandoned")
        self.job = job


@contextmanager
def _transaction(target: Target) -> Iterator[Connection]:
    """A connection in a transaction committed only if the block succeeds.

    On a caller's ``Connection`` with a transaction open, a savepoint inside
    it (the caller commits); without one, a transaction of its own.
    """
    if isinstance(target, Connection):
        scope = target.begin_nested() if target.in_transaction() else target.begin()
        with scope:
            yield target
        return
    with (
        _connections.connected(target, application_name=APPLICATION_NAME) as connection,
        connection.begin(),
    ):
        yield connection


@attrs.frozen
class _Options:
    repair: bool
    replace: bool
    progress: Progress
    lock_timeout: float


def _write(source: Source, target: Target, options: _Options) -> Job:
    with _transaction(target) as connection:
        writer = Writer(connection)
        writer.prepare(replace=options.replace, lock_timeout=options.lock_timeout)
        job = Job(source, writer, options.repair, options.progress)
        job.run()
        if job.problems and not job.repair:
            raise _Abandon(job)
        job.finish(writer)
    return job


def _judge_only(source: Source, options: _Options) -> Job:
    job = Job(source, NullWriter(), options.repair, options.progress)
    job.run()
    return job


def _job(source: Source, target: Target | None, dry_run: bool, options: _Options) -> Job:
    """Run the import (or the dry run); failures of the target become our errors."""
    try:
        if dry_run or target is None:
            return _judge_only(source, options)
        return _write(source, target, options)
    except psycopg.errors.LockNotAvailable as exc:
        raise ImportFailedError(
            f"the GearBox tables of the target are in use by another session (waited "
            f"{options.lock_timeout:g} s): stop what uses them and try again"
        ) from exc
    except (psycopg.Error, SQLAlchemyError) as exc:
        raise ImportFailedError(f"writing to the database failed: {exc}") from exc


def import_sqlite(
    source: str | Path,
    target: Target | None = None,
    *,
    repair: bool = False,
    replace: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    lock_timeout: float = 10.0,
    busy_timeout: float = 5.0,
) -> ImportResult:
    """Import the legacy file ``source`` into ``target`` (a URL or a SQLAlchemy Connection).

    Returns the result whatever problems were found (``result.written`` says
    whether the import was committed). Raises :class:`SourceError` for a file
    that cannot be read, :class:`TargetNotEmptyError` for a target holding
    data (unless ``replace``), :class:`ImportFailedError` or another
    :class:`~gearbox_db.errors.GearboxDBError` when writing fails. A dry run
    (or ``target=None``) validates and reports without writing, and without
    looking at the target at all: it judges the file alone.
    ``lock_timeout`` bounds the wait for the target's tables, ``busy_timeout``
    the wait for a file another process is writing.
    """
    started = time.perf_counter()
    options = _Options(repair, replace, progress or Silent(), lock_timeout)
    written = not (dry_run or target is None)
    with Source(source, timeout=busy_timeout) as src:
        try:
            job = _job(src, target, dry_run, options)
        except _Abandon as abandoned:
            job, written = abandoned.job, False
    return ImportResult(
        source=Path(source),
        tables=job.tables,
        problems=job.problems,
        written=written,
        dry_run=dry_run or target is None,
        repair=repair,
        seconds=time.perf_counter() - started,
        uncategorized_id=job.uncategorized,
    )
