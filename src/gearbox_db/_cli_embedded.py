"""``gearbox-db embedded {status,url,stop}``: the embedded development PostgreSQL.

The other commands start it when they need it and leave it running for the
next one; this command shows it, prints its URL (for a service under
development: ``export DATABASE_URL=$(gearbox-db embedded url)``) and stops it.
"""

from __future__ import annotations

import argparse
from typing import Final

from gearbox_db import embedded

__all__ = ["DESCRIPTION", "EXAMPLES", "NAME", "SUMMARY", "add_arguments", "run"]

NAME: Final = "embedded"
SUMMARY: Final = "show, print the URL of, or stop the embedded development PostgreSQL"
DESCRIPTION: Final = (
    "The embedded development PostgreSQL (a PostgreSQL 16 from the pgserver wheel, data in "
    f"${embedded.DATA_DIR_ENV} or the user data directory) is what every command uses when "
    "neither --database-url nor DATABASE_URL is given; it keeps running between commands. "
    "'status' says whether it runs, 'url' starts it if needed and prints the URL of its "
    f"'{embedded.DEFAULT_DATABASE}' database, 'stop' stops it (its data stays)."
)
EXAMPLES: Final = (
    "gearbox-db embedded status\n  export DATABASE_URL=$(gearbox-db embedded url)\n"
    "  gearbox-db embedded stop"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the action argument."""
    parser.add_argument("action", choices=("status", "url", "stop"), help="what to do")


def run(args: argparse.Namespace, url: str) -> int:
    """Do ``args.action``; ``url`` is unused (this command chooses no database)."""
    data_dir = embedded.default_data_dir()
    if args.action == "url":
        print(embedded.start(keep_running=True).ensure_database())
    elif args.action == "stop":
        stopped = embedded.stop()
        print(f"stopped the embedded PostgreSQL at {data_dir}" if stopped else "it was not running")
    else:
        state = "running" if embedded.is_running() else "not running"
        print(f"embedded PostgreSQL at {data_dir}: {state}")
    return 0
