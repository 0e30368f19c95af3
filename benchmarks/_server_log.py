"""Statements a database's backends logged (``log_statement = all``), read from the server log."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

#: A statement's log line (``log_line_prefix`` containing ``[%p]``, Debian's default).
_LOGGED: Final = re.compile(r"\[(\d+)\] (?:\S+ )?LOG:  (?:statement|execute [^:]*): ")


class ServerLog:
    """The server's log file, and the backends of one database that log every statement.

    ``ALTER DATABASE ... SET log_statement = 'all'`` (sessions opened afterwards
    log); :meth:`mark` remembers the end of the file, :meth:`statements` counts
    the statement lines written since by the database's backends (their pids
    looked up on an admin connection to another database, which does not log).
    """

    def __init__(self, path: Path, admin_url: str, url: str) -> None:
        self.path = path
        self.dbname = urlsplit(url).path.lstrip("/")
        self._admin: psycopg.Connection[Any] = psycopg.connect(admin_url, autocommit=True)
        name = sql.Identifier(self.dbname)
        self._admin.execute(sql.SQL("ALTER DATABASE {} SET log_statement = 'all'").format(name))
        self._offset = 0

    def mark(self) -> None:
        """Count from here on."""
        self._offset = self.path.stat().st_size

    def statements(self) -> int:
        """Statement lines the database's backends logged since :meth:`mark`."""
        with self.path.open("rb") as log:
            log.seek(self._offset)
            written = log.read().decode("utf-8", "replace")
        pids = {
            str(row[0])
            for row in self._admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.dbname,)
            )
        }
        return sum(1 for match in _LOGGED.finditer(written) if match.group(1) in pids)

    def close(self) -> None:
        """Close the admin connection."""
        self._admin.close()
