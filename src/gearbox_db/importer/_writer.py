"""The PostgreSQL side of an import: one transaction, binary COPY, identities, counts.

Everything happens on one connection inside one transaction (see
``gearbox_db.importer``): bringing an empty database to the schema head,
locking and emptying the GearBox tables, setting their foreign keys aside,
the COPYs (each table in a savepoint, so that a refused optimistic pass can
be rolled back and read again), restoring the foreign keys, continuing the
identities (``ALTER TABLE ... RESTART``, which is transactional, unlike
``setval``) and counting the rows. Killing the process or losing the
connection at any point therefore leaves the target as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import psycopg
import psycopg.copy
from psycopg import sql
from sqlalchemy import Connection, text

from gearbox_db import migrations
from gearbox_db.importer._errors import ImportFailedError, TargetNotEmptyError
from gearbox_db.importer._tables import TABLES, Table
from gearbox_db.schema import UNCATEGORIZED

__all__ = ["NullWriter", "Rejected", "RowWriter", "Writer"]

RowWriter = Callable[[Sequence[Any]], None]
_Query = str | sql.SQL | sql.Composed

_NAMES: Final = tuple(table.name for table in TABLES)
#: Tables the triggers of ``items`` keep (revision 0004): locked and emptied with ours,
#: never copied nor taken for another owner's.
_DERIVED: Final = ("category_totals",)
_OWN: Final = (*_NAMES, *_DERIVED)
_ALL: Final = sql.SQL(", ").join(sql.Identifier(name) for name in _OWN)
#: The row-change triggers keeping ``category_totals`` (its TRUNCATE trigger stays on).
_TOTALS_TRIGGERS: Final = tuple(
    f"items_category_totals_{op}" for op in ("insert", "update", "delete")
)


#: Foreign keys of the GearBox tables: (table as SQL, name, definition as SQL).
_FOREIGN_KEYS: Final = (
    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s) "
    "ORDER BY conrelid::regclass::text, conname"
)


#: Foreign keys of other tables (a host service's) that reference a GearBox table:
#: (referencing table as SQL, constraint name, its columns, referenced table).
_REFERENCES_FROM_OTHERS: Final = (
    "SELECT c.conrelid::regclass::text, c.conname, array_agg(a.attname ORDER BY k.ord), "
    "c.confrelid::regclass::text FROM pg_constraint c "
    "CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) "
    "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
    "WHERE c.contype = 'f' AND c.confrelid::regclass::text = ANY(%s) "
    "AND NOT c.conrelid::regclass::text = ANY(%s) "
    "GROUP BY c.oid, c.conrelid, c.conname, c.confrelid ORDER BY 1, 2"
)

#: Non-unique indexes of the GearBox tables (no constraint behind them): name, definition,
#: and the statements giving its columns their statistics targets back.
_INDEXES: Final = (
    "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid), ARRAY(SELECT "
    "format('ALTER INDEX %%s ALTER COLUMN %%s SET STATISTICS %%s', indexrelid::regclass, "
    "attnum, attstattarget) FROM pg_attribute WHERE attrelid = indexrelid "
    "AND attstattarget > 0 ORDER BY attnum) FROM pg_index "
    "WHERE NOT indisunique AND indrelid::regclass::text = ANY(%s) "
    "AND NOT EXISTS (SELECT FROM pg_constraint WHERE conindid = indexrelid) "
    "ORDER BY indexrelid"
)


def _holding_data() -> sql.Composed:
    """Query naming the GearBox tables that hold data (only ``Uncategorized`` does not count)."""
    parts = []
    for name in _NAMES:
        where: sql.Composable = sql.SQL("")
        if name == "categories":
            where = sql.SQL(" WHERE name <> {}").format(UNCATEGORIZED)
        parts.append(
            sql.SQL("SELECT {name} WHERE EXISTS (SELECT 1 FROM {table}{where})").format(
                name=name, table=sql.Identifier(name), where=where
            )
        )
    return sql.SQL(" UNION ALL ").join(parts)


class Rejected(Exception):  # noqa: N818 - internal signal, never leaves the package
    """PostgreSQL (a constraint, UTF-8 validation) or psycopg (a type) refused a row."""


#: What a refused row raises: in the server, or in psycopg's dumpers.
_REFUSALS: Final = (psycopg.IntegrityError, psycopg.DataError, TypeError, ValueError, OverflowError)


class _Sender(psycopg.copy.QueuedLibpqWriter):
    """Sends the COPY data from a worker thread, so that reading the file goes on while
    the server catches up (and the other way round); at most 4 MB wait in the queue."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        super().__init__(cursor)
        pending = getattr(self, "_queue", None)  # psycopg's own: 1024 blocks (32 MB)
        if pending is not None:
            pending.maxsize = _QUEUED_BLOCKS


#: Blocks of 32 kB that may wait for the sending thread (memory stays flat).
_QUEUED_BLOCKS: Final = 128


class NullWriter:
    """Writes nothing: the target of a dry run."""

    @contextmanager
    def copy(self, table: Table) -> Iterator[RowWriter]:
        """A row writer that drops every row."""
        yield lambda row: None

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Nothing to roll back."""
        yield


class Writer:
    """Writes into the target over ``connection``, which is inside a transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        raw = connection.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        self._raw: psycopg.Connection[Any] = raw
        self._foreign_keys: list[Any] = []
        self._indexes: list[Any] = []

    def _execute(
        self, query: str | sql.SQL | sql.Composed, params: Sequence[Any] = ()
    ) -> list[Any]:
        with self._raw.cursor() as cursor:
            cursor.execute(query, params or None)
            return cursor.fetchall() if cursor.description else []

    def prepare(self, *, replace: bool, lock_timeout: float) -> None:
        """Migrate an empty database, lock the GearBox tables, refuse or empty them.

        Tables of other owners are never emptied nor changed: when one of
        their rows references a GearBox row, the import is refused up front
        (naming the table); when their foreign keys reference ours without
        any row doing so, ours are emptied by ``DELETE`` (``TRUNCATE`` would
        have to take theirs along).
        """
        self._bring_to_head()
        self._lock(lock_timeout)
        if not replace:
            self.refuse_data()
        if self._refuse_references_from_others():
            self.suspend_foreign_keys()
            for name in _NAMES:
                self._execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(name)))
            self.suspend_indexes()
            self.suspend_totals()
            return
        self._execute(sql.SQL("TRUNCATE {}").format(_ALL))
        self.suspend_foreign_keys()
        self.suspend_indexes()
        self.suspend_totals()

    def _refuse_references_from_others(self) -> bool:
        """Raise if rows of another table reference GearBox rows; whether any such key exists."""
        references = self._execute(_REFERENCES_FROM_OTHERS, (list(_NAMES), list(_OWN)))
        for table, name, columns, referenced in references:
            set_ = sql.SQL(" AND ").join(
                sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in columns
            )
            query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {})").format(
                sql.SQL(table), set_
            )
            if self._execute(query)[0][0]:
                raise TargetNotEmptyError(
                    f"rows of table {table} reference {referenced} (foreign key {name}): "
                    "importing would empty GearBox tables they depend on; remove those rows "
                    "first (nothing was changed)"
                )
        return bool(references)

    def _bring_to_head(self) -> None:
        revisions = migrations.current(self.connection)
        if not revisions:
            migrations.upgrade(self.connection)
        elif revisions != (migrations.head(),):
            raise ImportFailedError(
                f"the target database is at revision {', '.join(revisions)}, not at head "
                f"{migrations.head()}: run 'gearbox-db upgrade' first"
            )

    def _lock(self, timeout: float) -> None:
        """Lock the GearBox tables, waiting at most ``timeout`` seconds for other sessions."""
        (previous,) = self._execute("SELECT current_setting('lock_timeout')")[0]
        self._execute("SELECT set_config('lock_timeout', %s, true)", (f"{round(timeout * 1000)}",))
        self._execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(_ALL))
        self._execute("SELECT set_config('lock_timeout', %s, true)", (previous,))

    def has_schema(self) -> bool:
        """Whether the GearBox tables exist."""
        return bool(self._execute("SELECT to_regclass('categories') IS NOT NULL")[0][0])

    def suspend_foreign_keys(self) -> None:
        """Drop the foreign keys of the GearBox tables until :meth:`restore_foreign_keys`.

        A foreign key checked row by row costs the server more than the rest
        of the COPY; added back after the load, each is validated by one join.
        Both happen in the import's transaction, so the schema is never seen
        without them and ends exactly as it was (same names, same definitions).
        """
        self._foreign_keys = self._execute(_FOREIGN_KEYS, (list(_NAMES),))
        for table, name, _ in self._foreign_keys:
            self._execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.SQL(table), sql.Identifier(name)
                )
            )

    def restore_foreign_keys(self) -> None:
        """Add back (and so validate) the foreign keys dropped by :meth:`suspend_foreign_keys`."""
        for table, name, definition in self._foreign_keys:
            self._execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    sql.SQL(table), sql.Identifier(name), sql.SQL(definition)
                )
            )
        self._foreign_keys = []

    def suspend_indexes(self) -> None:
        """Drop the non-unique indexes of the GearBox tables until :meth:`restore_indexes`.

        Each index maintained row by row during a COPY costs more than building
        it once from the loaded table (the listing indexes made an import ten
        times slower). Like the foreign keys, they are dropped and built again
        in the import's transaction: nobody sees the tables without them, and
        they end exactly as they were (same names, same definitions).
        """
        self._indexes = self._execute(_INDEXES, (list(_NAMES),))
        for name, _, _ in self._indexes:
            self._execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))

    def restore_indexes(self) -> None:
        """Build again the indexes dropped by :meth:`suspend_indexes`."""
        for _, definition, statistics in self._indexes:
            for statement in [definition, *statistics]:
                self._execute(sql.SQL(statement))
        self._indexes = []

    #: Whether the load goes without the triggers of ``category_totals`` (recounted once at
    #: the end) rather than through them (benchmarks/import_totals.py measures both).
    recount_totals: bool = True

    def suspend_totals(self) -> None:
        """Disable the triggers keeping ``category_totals`` until :meth:`restore_totals`.

        In the import's transaction, on tables it has locked: nobody sees the
        triggers disabled nor the totals before the recount.
        """
        if self.recount_totals:
            for trigger in _TOTALS_TRIGGERS:
                self._execute(
                    sql.SQL("ALTER TABLE items DISABLE TRIGGER {}").format(sql.Identifier(trigger))
                )

    def restore_totals(self) -> None:
        """Recount ``category_totals`` from the loaded items and enable its triggers again."""
        if self.recount_totals:
            self._execute("SELECT gearbox_recount_category_totals()")
            for trigger in _TOTALS_TRIGGERS:
                self._execute(
                    sql.SQL("ALTER TABLE items ENABLE TRIGGER {}").format(sql.Identifier(trigger))
                )

    def refuse_data(self) -> None:
        """Raise :class:`TargetNotEmptyError` if the GearBox tables hold data."""
        holding = [row[0] for row in self._execute(_holding_data())]
        if holding:
            raise TargetNotEmptyError(
                f"the target database already holds GearBox data (in {', '.join(holding)}); "
                "use --replace to replace it"
            )

    @contextmanager
    def copy(self, table: Table) -> Iterator[RowWriter]:
        """A function writing one converted row into ``table`` (binary COPY)."""
        columns = sql.SQL(", ").join(sql.Identifier(name) for name in table.names)
        query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(table.name), columns
        )
        try:
            with self._raw.cursor() as cursor, cursor.copy(query, writer=_Sender(cursor)) as copy:
                copy.set_types([column.kind.pg_type for column in table.columns])
                yield copy.write_row
        except _REFUSALS as exc:
            raise Rejected(str(exc).splitlines()[0]) from exc

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Roll back what the block wrote if it raises."""
        with self._raw.transaction():
            yield

    def add_category(self, category_id: int, name: str) -> None:
        """Insert a category (the ``Uncategorized`` a file may lack)."""
        self._execute("INSERT INTO categories (id, name) VALUES (%s, %s)", (category_id, name))

    def restart_identity(self, table: str, next_id: int) -> None:
        """Make ``table``'s identity continue at ``next_id``."""
        query = sql.SQL("ALTER TABLE {} ALTER COLUMN id RESTART WITH {}").format(
            sql.Identifier(table), sql.Literal(next_id)
        )
        self._execute(query)

    def count(self, table: str) -> int:
        """Rows of ``table`` as the transaction sees them."""
        rows = self._execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        return int(rows[0][0])

    def check_constraints(self) -> None:
        """Check the deferred constraints now rather than at commit."""
        self.connection.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
