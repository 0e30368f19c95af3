"""Generate the next migration from ``schema.py``: ``nox -s revision -- "add colour to items"``.

    python tools/new_revision.py "add colour to items" [--database-url URL]

Creates a scratch database on the server (``--database-url``, else
``$GEARBOX_DB_TEST_URL``, else the local PostgreSQL), upgrades it to the current
head, lets Alembic's autogenerate compare it with ``gearbox_db.schema.metadata``
and writes ``src/gearbox_db/migrations/versions/NNNN_<slug>.py`` (NNNN: the
next number), then drops the scratch database. Autogenerate does not see
CHECK expressions, triggers, functions or expression details: read the file,
finish it by hand (docs/maintaining.md), and let the schema-contract tests
(tests/test_schema_*.py, tests/test_migrations.py) catch what it missed.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from gearbox_db import migrations
from gearbox_db._url import to_sqlalchemy_url

SYSTEM_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
VERSIONS = Path(migrations.__file__).resolve().parent / "versions"


def next_id() -> str:
    """The number after the newest revision's, four digits."""
    return f"{max(int(rev.revision) for rev in migrations.history()) + 1:04d}"


def generate(server_url: str, message: str, into: Path = VERSIONS) -> Path:
    """Autogenerate the next revision against a scratch database of ``server_url``, as a
    file in ``into`` (the package's versions; a test writes elsewhere, so that other test
    runs sharing the checkout never see a revision come and go)."""
    scratch = f"gearbox_revision_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{scratch}"')
    url = to_sqlalchemy_url(server_url).set(database=scratch)
    engine = create_engine(url, poolclass=NullPool)
    try:
        migrations.upgrade(url)
        with engine.connect() as connection:
            config = Config()
            config.set_main_option("script_location", "gearbox_db:migrations")
            config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
            if into != VERSIONS:
                config.set_main_option("path_separator", "os")
                config.set_main_option("version_locations", f"{VERSIONS}{os.pathsep}{into}")
            config.attributes["connection"] = connection
            rev_id = next_id()
            command.revision(
                config, message, autogenerate=True, rev_id=rev_id, version_path=str(into)
            )
            connection.commit()
    finally:
        engine.dispose()
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{scratch}" WITH (FORCE)')
    (path,) = into.glob(f"{rev_id}_*.py")
    return path


def main() -> int:
    """Parse the arguments, generate, say where the file is."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("message", help="what the revision does, in a few words")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("GEARBOX_DB_TEST_URL", SYSTEM_PG),
        help="a server where a scratch database may be created (default: the local one)",
    )
    args = parser.parse_args()
    path = generate(args.database_url, args.message)
    print(f"wrote {path}: review it, then see docs/maintaining.md for the next steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
