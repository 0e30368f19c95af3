"""A lost connection during ``gearbox-db import-sqlite``: one error line (issue 10, point 10)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gearbox_db.testing import legacy

#: The CLI, its progress replaced by one that ends the import's connection mid-items.
_CLI_LOSING_ITS_CONNECTION = """
import logging
import sys
import psycopg
from gearbox_db import cli
from gearbox_db.importer import APPLICATION_NAME, Silent
from gearbox_db.importer import cli as import_cli

url = sys.argv[2]


class Terminator(Silent):
    done = False

    def advanced(self, table, rows):
        if table == "items" and not self.done:
            self.done = True
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s AND datname = current_database()",
                    (APPLICATION_NAME,),
                )
            # What psycopg logs when its COPY is torn down at the wrong moment
            # (it depends on timing, so it is said here for sure):
            logging.getLogger("psycopg").warning(
                chr(10).join(
                    [
                        "error ignored terminating <psycopg.Copy [BAD]>: sending copy data "
                        "failed: server closed the connection unexpectedly",
                        "    This probably means the server terminated abnormally",
                        "    before or while processing the request.",
                    ]
                )
            )


import_cli.for_stream = lambda stream=None: Terminator()
sys.exit(cli.main(["import-sqlite", sys.argv[1], "--database-url", url]))
"""


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("legacy") / "gearbox.db"
    legacy.generate(path, legacy.Spec(items=20000, seed=9))
    return path


@pytest.mark.slow
def test_a_lost_connection_is_one_error_line(big_file: Path, gearbox_database_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CLI_LOSING_ITS_CONNECTION, str(big_file), gearbox_database_url],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if not line.startswith("gearbox-db: using")]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("gearbox-db: error: ")
