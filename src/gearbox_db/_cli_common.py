"""What every ``gearbox-db`` subcommand shares: its declaration and the one error printer.

A subcommand module (:mod:`gearbox_db._cli_embedded`, :mod:`gearbox_db.importer.cli`)
declares one :class:`Subcommand`; :mod:`gearbox_db.cli` lists them. Handlers raise
on failure; :func:`guarded` turns any failure into one redacted
``gearbox-db: error: ...`` line (exit 1), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection
from typing import Final

import attrs

from gearbox_db._redact import one_line, redact
from gearbox_db.errors import GearboxDBError

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "PROG",
    "Handler",
    "Subcommand",
    "guarded",
    "say",
]

#: Name of the program in messages, whichever way it was started.
PROG: Final = "gearbox-db"
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_INTERRUPTED: Final = 130

#: ``handler(args, url)`` does the work and returns the exit code (raises on failure).
Handler = Callable[[argparse.Namespace, str], int]


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """Add nothing: the subcommand takes only the common options."""


@attrs.frozen
class Subcommand:
    """One subcommand: its name, its help texts, its own arguments and its handler."""

    name: str
    #: One line, shown in ``gearbox-db --help``.
    summary: str
    #: Paragraph at the top of ``gearbox-db NAME --help``.
    description: str
    #: Example invocations, shown at the bottom of ``gearbox-db NAME --help``.
    examples: str
    #: ``handler(args, url)`` does the work and returns the exit code.
    handler: Handler
    #: Adds the subcommand's own arguments (``--database-url`` is added for all).
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments
    #: Whether the command works on a database (else the handler gets ``""``).
    needs_database: bool = True


def say(message: str) -> None:
    """``gearbox-db: message`` on stderr."""
    print(f"{PROG}: {message}", file=sys.stderr)


def guarded(work: Callable[[], int], secrets: Collection[str]) -> int:
    """``work()``'s exit code; a failure is one ``error:`` line without ``secrets``
    (exit 1), an interrupt exit 130. ``secrets`` may grow while ``work`` runs."""
    try:
        return work()
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # one line, never a traceback (it could hold a password)
        kind = "" if isinstance(exc, GearboxDBError) else f"unexpected {type(exc).__name__}: "
        say(f"error: {kind}{one_line(redact(str(exc), set(secrets)))}")
        return EXIT_FAILED
