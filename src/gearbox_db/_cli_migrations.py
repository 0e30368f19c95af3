"""Texts and arguments of the migration subcommands of ``gearbox-db`` (:mod:`gearbox_db.cli`)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["describe_difference", "downgrade_arguments", "stamp_arguments", "upgrade_arguments"]


def _value(value: Any) -> str:
    """A schema value (type, server default, ...) of a difference, readably."""
    arg = getattr(value, "arg", value)  # a DefaultClause holds its SQL in .arg
    return str(getattr(arg, "text", arg))


def describe_difference(difference: Any) -> str:
    """One of Alembic's autogenerate diff directives as a line of text."""
    if isinstance(difference, list):  # the modify_* of one column come as a list
        return "; ".join(describe_difference(item) for item in difference)
    kind, *args = difference
    if kind.startswith("modify_"):  # (schema, table, column, existing, db value, ours)
        return f"{kind} {args[1]}.{args[2]}: {_value(args[4])} -> {_value(args[5])}"
    if kind.endswith("_column"):  # (schema, table, column)
        return f"{kind} {args[1]}.{args[2].name} {args[2].type}"
    target = args[0]
    table = getattr(target, "table", None)
    where = f" on {table.name}" if table is not None else ""
    return f"{kind} {getattr(target, 'name', None) or target}{where}"


def upgrade_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "revision",
        metavar="REV",
        nargs="?",
        default="head",
        help="revision to migrate to (default: head)",
    )
    parser.add_argument(
        "--sql",
        action="store_true",
        help="print the SQL instead of running it (no database needed), for a DBA's review",
    )
    parser.add_argument(
        "--from", dest="start", metavar="FROM", help="with --sql: the revision to start from"
    )


def stamp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("revision", metavar="REV", help="revision to record ('base' forgets it)")


def downgrade_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "revision", metavar="REV", help="revision to migrate down to ('base' removes everything)"
    )
