"""The command line: ``gearbox-db`` (or ``python -m gearbox_db``).

Every subcommand works on one database, chosen in this order:
``--database-url``, else ``DATABASE_URL``, else the embedded development
PostgreSQL (:mod:`gearbox_db.embedded`, left running for the next command).
The choice is announced on stderr, with any password masked; no password is
printed anywhere, error messages included.

Exit codes: 0 done, 1 failed (one ``gearbox-db: error: ...`` line, never a
traceback), 2 usage error (from argparse), 130 interrupted.

Adding a subcommand is one handler function (``(args, url) -> exit code``, raising
on failure) and one :class:`Subcommand` entry in :data:`SUBCOMMANDS`; failures are
printed by :func:`execute` alone.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any, Final, NoReturn

from gearbox_db import __version__, embedded, migrations
from gearbox_db import _cli_embedded as embedded_cli
from gearbox_db._cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    PROG,
    Handler,
    Subcommand,
    guarded,
    say,
)
from gearbox_db._cli_migrations import (
    describe_difference,
    downgrade_arguments,
    stamp_arguments,
    upgrade_arguments,
)
from gearbox_db._redact import redact, secrets_of
from gearbox_db._url import mask, to_sqlalchemy_url
from gearbox_db.importer import cli as import_cli

__all__ = ["PROG", "SUBCOMMANDS", "Subcommand", "build_parser", "execute", "main"]

_URL_ENV: Final = "DATABASE_URL"
#: What a CLI user can do where the embedded server cannot run.
EMBEDDED_OPTIONS: Final = embedded_cli.OPTIONS


# --- output -------------------------------------------------------------------


def _out(line: str) -> None:
    print(line, file=sys.stdout)


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors never echo a password."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and the (redacted) message; exit 2."""
        super().error(redact(message, secrets_of(os.environ.get(_URL_ENV))))


# --- choosing the database ----------------------------------------------------


def _database_url(args: argparse.Namespace) -> str:
    """URL of the database to use; says on stderr which one and where it came from."""
    url: str | None = args.database_url
    source = "--database-url"
    if url is None:  # an empty DATABASE_URL counts as unset, an empty option does not
        url, source = os.environ.get(_URL_ENV) or None, _URL_ENV
    if url is not None:
        say(f"using {mask(url)} (from {source})")
        to_sqlalchemy_url(url)  # a bad URL fails here, before any connection attempt
        return url
    try:
        server = embedded.start(keep_running=True)
        for directory, major in embedded.other_versions():
            say(f"note: {embedded.other_versions_advice(directory, major)}")
    except embedded.EmbeddedUnavailableError as exc:
        raise embedded.EmbeddedUnavailableError(f"{exc.cause}; {EMBEDDED_OPTIONS}") from exc
    state = (
        "started it; it keeps running in the background" if server.started else "already running"
    )
    url = server.ensure_database()
    say(
        f"using the embedded development PostgreSQL {server.version} at {server.data_dir} ({state})"
    )
    return url


# --- revisions ----------------------------------------------------------------


def _describe_revisions(revisions: Sequence[str]) -> str:
    """``revisions`` of a database, and how they stand to the package's head."""
    head = migrations.head()
    if not revisions:
        return f"base (not migrated; head is {head})"
    known = {rev.revision for rev in migrations.history()}
    shown = ", ".join(revisions)
    if tuple(revisions) == (head,):
        return f"{shown} (head)"
    if not set(revisions) <= known:
        return f"{shown} (unknown to {PROG} {__version__}; its head is {head})"
    return f"{shown} (not head; head is {head})"


def _migrate(action: str, url: str, revision: str) -> int:
    getattr(migrations, action)(url, revision)
    _out(f"{action}: done; the database is at {_describe_revisions(migrations.current(url))}")
    return EXIT_OK


# --- subcommands --------------------------------------------------------------


def _upgrade(args: argparse.Namespace, url: str) -> int:
    """Migrate the database up to ``args.revision`` (or print the SQL of it)."""
    if args.sql:
        sys.stdout.write(migrations.upgrade_sql(args.revision, args.start))
        return EXIT_OK
    return _migrate("upgrade", url, args.revision)


def _stamp(args: argparse.Namespace, url: str) -> int:
    """Record ``args.revision`` as the database's revision, running nothing."""
    return _migrate("stamp", url, args.revision)


def _downgrade(args: argparse.Namespace, url: str) -> int:
    """Migrate the database down to ``args.revision``."""
    return _migrate("downgrade", url, args.revision)


def _current(args: argparse.Namespace, url: str) -> int:
    """Print the database's revision(s) and whether that is head."""
    _out(_describe_revisions(migrations.current(url)))
    return EXIT_OK


def _history(args: argparse.Namespace, url: str) -> int:
    """List the shipped revisions newest first, marking head and the database's current."""
    current = set(migrations.current(url))
    for rev in migrations.history():
        marks = [m for m, on in (("head", rev.is_head), ("current", rev.revision in current)) if on]
        label = f" ({', '.join(marks)})" if marks else ""
        first_line = (rev.message.strip().splitlines() or [""])[0]
        _out(f"{rev.down_revision or 'base'} -> {rev.revision}{label}  {first_line}".rstrip())
    return EXIT_OK


def _check(args: argparse.Namespace, url: str) -> int:
    """Exit 1 listing the differences if the schema differs from the package's tables."""
    differences = migrations.check(url)
    if not differences:
        _out(f"schema matches {PROG} {__version__}")
        return EXIT_OK
    _out(f"schema differs from {PROG} {__version__} (changes that would make it match):")
    for difference in differences:
        _out(f"  {describe_difference(difference)}")
    count = f"{len(differences)} difference{'s' if len(differences) != 1 else ''}"
    say(f"error: the database schema differs ({count})")
    revisions = migrations.current(url)
    if revisions != (migrations.head(),):
        say(f"hint: the database is at {_describe_revisions(revisions)}; try '{PROG} upgrade'")
    return EXIT_FAILED


SUBCOMMANDS: Final[tuple[Subcommand, ...]] = (
    Subcommand(
        name="upgrade",
        summary="migrate the database up (default: to head)",
        description=(
            "Migrate the database up to REV (default: head) with the migrations shipped in "
            "this package. Several upgrades at once (replicas starting together) are "
            "serialised by an advisory lock: one migrates, the others wait, all succeed."
        ),
        examples=f"{PROG} upgrade\n  {PROG} upgrade 0001 --database-url postgresql://app@db/gearbox"
        f"\n  {PROG} upgrade --sql --from 0001 > for-the-dba.sql",
        handler=_upgrade,
        arguments=upgrade_arguments,
    ),
    Subcommand(
        name="stamp",
        summary="record REV as the database's revision without migrating",
        description=(
            "Record REV as the revision the database is at, running no migration: for a "
            "schema a DBA brought there by hand (with the SQL of 'upgrade --sql')."
        ),
        examples=f"{PROG} upgrade --sql > review.sql && {PROG} stamp head",
        handler=_stamp,
        arguments=stamp_arguments,
    ),
    Subcommand(
        name="downgrade",
        summary="migrate the database down to REV ('base' removes everything)",
        description="Migrate the database down to REV; 'base' drops every table of gearbox-db.",
        examples=f"{PROG} downgrade base --database-url postgresql://app@db/gearbox_scratch",
        handler=_downgrade,
        arguments=downgrade_arguments,
    ),
    Subcommand(
        name="current",
        summary="show the database's revision and whether it is head",
        description="Print the revision(s) the database is at and whether that is head.",
        examples=f"DATABASE_URL=postgresql://app@db/gearbox {PROG} current",
        handler=_current,
    ),
    Subcommand(
        name="history",
        summary="list the shipped revisions, newest first",
        description=(
            "List the revisions shipped in this package, newest first, marking head and "
            "the revision the database is at."
        ),
        examples=f"{PROG} history",
        handler=_history,
    ),
    Subcommand(
        name="check",
        summary="exit 1 if the database schema differs from the package's tables",
        description=(
            "Compare the database with the package's tables (columns, types, defaults, "
            "indexes, constraints). Exit 0 when they match; else list the differences "
            "and exit 1. Tables of other owners in the same database are ignored."
        ),
        examples=f"{PROG} check --database-url postgresql://app@db/gearbox || alert-oncall",
        handler=_check,
    ),
    embedded_cli.COMMAND,
    import_cli.COMMAND,
)


# --- parser and entry point ---------------------------------------------------


def _common_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--database-url",
        metavar="URL",
        default=default,
        help=(
            f"PostgreSQL URL, e.g. postgresql://user:password@host:5432/gearbox (default: "
            f"${_URL_ENV}, else the embedded development PostgreSQL in "
            f"${embedded.DATA_DIR_ENV} or the user data directory)"
        ),
    )


def _add_subcommand(subparsers: Any, command: Subcommand) -> None:
    parser = subparsers.add_parser(
        command.name,
        help=command.summary,
        description=textwrap.fill(command.description, width=79),
        epilog=f"example:\n  {command.examples}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.arguments(parser)
    # SUPPRESS: an option given before the subcommand is not reset by this default.
    _common_options(parser, argparse.SUPPRESS)
    parser.set_defaults(handler=command.handler, needs_database=command.needs_database)


def build_parser(commands: Iterable[Subcommand] = SUBCOMMANDS) -> argparse.ArgumentParser:
    """The argument parser of ``gearbox-db`` with ``commands`` as its subcommands."""
    parser = _Parser(
        prog=PROG,
        description=(
            "Schema migrations, checks and the legacy SQLite import of the GearBox "
            "PostgreSQL database."
        ),
        epilog=f"example:\n  {PROG} upgrade && {PROG} current\n\n"
        f"exit codes: 0 done, 1 failed, 2 usage error; '{PROG} COMMAND --help' for details",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _common_options(parser, None)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in commands:
        _add_subcommand(subparsers, command)
    return parser


def execute(args: argparse.Namespace, url: str | None = None) -> int:
    """Run the parsed subcommand on ``url`` (``None``: the database its options or
    the environment choose); a failure is one redacted error line and exit 1."""
    secrets = secrets_of(args.database_url) | secrets_of(os.environ.get(_URL_ENV))

    def work() -> int:
        handler: Handler = args.handler
        # A dry run of the importer validates the file alone, and --sql prints the
        # SQL of a migration: neither needs a database at all.
        offline = getattr(args, "dry_run", False) or getattr(args, "sql", False)
        chosen = url
        if chosen is None:
            chosen = _database_url(args) if args.needs_database and not offline else ""
        secrets.update(secrets_of(chosen))
        return handler(args, chosen)

    return guarded(work, secrets)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gearbox-db`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    # psycopg logs what it ignores while a lost connection is torn down ("error
    # ignored terminating <psycopg.Copy>...", three lines); with no logging set
    # up Python would print it. The error itself comes as our one line.
    logging.getLogger("psycopg").addHandler(logging.NullHandler())
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help and --version (0), usage errors (2)
        return EXIT_OK if exc.code is None else int(exc.code)
    return execute(args)
