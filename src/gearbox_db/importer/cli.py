"""``gearbox-db import-sqlite PATH [--dry-run] [--repair] [--replace] [--report FILE]``.

The main CLI (:mod:`gearbox_db.cli`) resolves the database URL
(``--database-url``, ``DATABASE_URL``, else the embedded server) and calls
:func:`run` with it (:data:`COMMAND` declares the subcommand). Failures
raise; the main CLI prints them (one ``gearbox-db: error: ...`` line).

Exit codes: 0 imported (or, for a dry run, importable), 1 problems found and
nothing written, or a failure (one ``gearbox-db: error: ...`` line), 2 usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Final, TextIO

from gearbox_db._cli_common import Subcommand
from gearbox_db.errors import ConfigurationError
from gearbox_db.importer import Bar, ImportResult, for_stream, import_sqlite, write_report

__all__ = ["COMMAND", "add_arguments", "run"]

#: Problems printed on the terminal; the rest are counted (all go to --report).
_SHOWN: Final = 50
_EXIT_OK: Final = 0
_EXIT_FAILED: Final = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``import-sqlite`` to ``parser``."""
    parser.add_argument("path", metavar="PATH", type=Path, help="the legacy gearbox.db file")
    parser.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
    parser.add_argument(
        "--repair", action="store_true", help="apply the documented repairs, listing each"
    )
    parser.add_argument(
        "--replace", action="store_true", help="empty a database holding GearBox data first"
    )
    parser.add_argument(
        "--report", metavar="FILE", type=Path, help="write the problems to FILE as JSON"
    )


def _report_problem(report: Path | None) -> str | None:
    """Why ``--report FILE`` could not be written, checked before anything is imported
    (a report that fails after the commit would make a done import look failed)."""
    if report is None:
        return None
    if report.is_dir():
        return f"--report {report}: is a directory"
    if not report.parent.is_dir():
        return f"--report {report}: no such directory {report.parent}"
    if not os.access(report.parent, os.W_OK) or (
        report.exists() and not os.access(report, os.W_OK)
    ):
        return f"--report {report}: not writable"
    return None


def _print_problems(result: ImportResult, out: TextIO) -> None:
    for problem in result.problems[:_SHOWN]:
        print(f"  {problem.line()}", file=out)
    hidden = len(result.problems) - _SHOWN
    if hidden > 0:
        print(f"  ... and {hidden} more (all of them with --report FILE)", file=out)


def _verdict(result: ImportResult) -> str:
    count = len(result.problems)
    found = f"{count} problem{'s' if count != 1 else ''}"
    if result.written:
        repaired = f", {found} repaired" if count else ""
        return f"imported {result.rows_written} rows in {result.seconds:.2f} s{repaired}"
    if result.dry_run and result.ok:
        repaired = f"; {found} would be repaired" if count else ""
        return f"dry run: the file can be imported ({result.rows_written} rows){repaired}"
    return f"{found} found; nothing was written (use --repair to apply the repairs)"


def run(args: argparse.Namespace, url: str, *, out: TextIO | None = None) -> int:
    """Run ``import-sqlite`` against the database at ``url``; return the exit code.

    A dry run (``url`` is then ``""``) reads and validates the file only.
    """
    out = out or sys.stdout
    unwritable = _report_problem(args.report)
    if unwritable is not None:
        raise ConfigurationError(f"{unwritable}; nothing was imported")
    progress = for_stream(sys.stderr)
    try:
        result = import_sqlite(
            args.path,
            None if args.dry_run else url,
            repair=args.repair,
            replace=args.replace,
            dry_run=args.dry_run,
            progress=progress,
        )
    finally:
        if isinstance(progress, Bar):
            progress.close()
    if args.report is not None:
        write_report(args.report, result.problems)
    _print_problems(result, out)
    print("\n".join(result.summary_lines()), file=out)
    print(_verdict(result), file=out)
    return _EXIT_OK if result.ok else _EXIT_FAILED


#: The ``import-sqlite`` subcommand.
COMMAND: Final = Subcommand(
    name="import-sqlite",
    summary="import a legacy GearBox SQLite file (all or nothing)",
    description=(
        "Import the legacy GearBox SQLite file PATH into the database, in one transaction. "
        "The file is opened read-only and never modified. Every row is validated first and "
        "every problem is listed; any problem means nothing is written (exit 1) unless "
        "--repair applies the documented repairs. An empty database is first brought to the "
        "schema head; one that already holds GearBox data is refused unless --replace. "
        "--dry-run validates the file alone and needs no database."
    ),
    examples=(
        "gearbox-db import-sqlite examples/gearbox-sample.db\n"
        "  gearbox-db import-sqlite ~/gearbox.db --dry-run --report problems.json\n"
        "  gearbox-db import-sqlite ~/gearbox.db --repair --replace --database-url "
        "postgresql://app@db/gearbox"
    ),
    handler=run,
    arguments=add_arguments,
)
