"""Operations for revisions that must stay safe on a live, big database.

A revision builds its indexes with :func:`create_indexes`: ``CONCURRENTLY``,
outside the revision's transaction (writers keep writing while it builds),
when the migration runs on a connection of its own or as offline SQL; in the
caller's transaction (and so without ``CONCURRENTLY``) when ``upgrade`` was
given a connection inside a transaction. A concurrent build that failed
leaves an invalid index behind: the next run drops it and builds it again,
so every index operation here may be run twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

from alembic import op
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gearbox_db.migrations import CONCURRENT_ATTRIBUTE

__all__ = [
    "IndexSpec",
    "concurrent",
    "create_indexes",
    "create_trigram_index",
    "drop_indexes",
    "drop_trigram_index",
]

log: Final = logging.getLogger("gearbox_db.migrations")

#: (index name, table, column expressions as SQL): what a revision builds.
IndexSpec = tuple[str, str, str]

_TRIGRAM_SCHEMA: Final = (
    "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
)
_MARK: Final = "created by gearbox_db for the trigram index of item names"


def concurrent() -> bool:
    """Whether this run builds indexes ``CONCURRENTLY`` (outside its transaction)."""
    config = op.get_context().config
    return bool(config is not None and config.attributes.get(CONCURRENT_ATTRIBUTE, False))


def _offline() -> bool:
    return bool(op.get_context().as_sql)


def _scalar(sql: str, **params: Any) -> Any:
    return op.get_bind().execute(text(sql), params).scalar()


def _drop_if_invalid(name: str) -> None:
    """Drop a leftover of a failed ``CONCURRENTLY`` build (an invalid index)."""
    invalid = _scalar(
        "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)", name=name
    )
    if invalid:
        log.warning("dropping the invalid index %s left by a failed build", name)
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def _build(specs: Sequence[IndexSpec], using: str = "") -> None:
    how = "CONCURRENTLY " if concurrent() else ""
    for name, table, columns in specs:
        if concurrent() and not _offline():
            _drop_if_invalid(name)
        op.execute(f"CREATE INDEX {how}IF NOT EXISTS {name} ON {table} {using}({columns})")


def create_indexes(specs: Sequence[IndexSpec]) -> None:
    """Build the indexes ``specs`` (``CONCURRENTLY`` outside the transaction when possible)."""
    if concurrent():
        with op.get_context().autocommit_block():
            _build(specs)
    else:
        _build(specs)


def drop_indexes(names: Sequence[str]) -> None:
    """Drop the indexes ``names`` (``CONCURRENTLY`` outside the transaction when possible)."""
    how = "CONCURRENTLY " if concurrent() else ""
    if concurrent():
        with op.get_context().autocommit_block():
            for name in names:
                op.execute(f"DROP INDEX {how}IF EXISTS {name}")
    else:
        for name in names:
            op.execute(f"DROP INDEX IF EXISTS {name}")


def _trigram_schema() -> str | None:
    """Schema of pg_trgm, creating the extension if it is missing and may be created."""
    schema = _scalar(_TRIGRAM_SCHEMA)
    if schema is not None:
        return str(schema)
    creatable = _scalar(
        "SELECT EXISTS (SELECT FROM pg_available_extension_versions v "
        "WHERE v.name = 'pg_trgm' AND (v.superuser IS FALSE OR v.trusted "
        "OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))) "
        "AND has_database_privilege(current_database(), 'CREATE') "
        "AND has_schema_privilege(current_schema(), 'CREATE')"
    )
    if not creatable:
        return None
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(f"COMMENT ON EXTENSION pg_trgm IS '{_MARK}'")
    return str(_scalar(_TRIGRAM_SCHEMA))


def create_trigram_index(name: str, table: str, expression: str) -> bool:
    """A GIN trigram index on ``expression`` where the pg_trgm extension exists or may be
    created (it is trusted: a database owner may); else a warning, and ``False``.

    Offline, the SQL assumes pg_trgm is available. Call it in the revision's
    transaction, before any :func:`create_indexes`.
    """
    if _offline():
        op.get_context().impl.static_output(
            f"-- {name} needs the pg_trgm extension: where it is not available, skip the\n"
            "-- statements naming pg_trgm or gin_trgm_ops (name search then scans).\n"
        )
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema = None
    else:
        schema = _trigram_schema()
        if schema is None:
            log.warning(
                "pg_trgm is not available to this database user: index %s is not built and "
                "name search scans the table (to add it later: docs/maintaining.md, "
                "'pg_trgm and name search')",
                name,
            )
            return False
    opclass = "gin_trgm_ops" if schema is None else f"{schema}.gin_trgm_ops"
    spec = (name, table, f"{expression} {opclass}")
    if concurrent():
        with op.get_context().autocommit_block():
            _build([spec], using="USING gin ")
    else:
        _build([spec], using="USING gin ")
    return True


def drop_trigram_index(name: str) -> None:
    """Drop the trigram index, and pg_trgm when gearbox_db created it and nothing else uses it."""
    drop_indexes([name])
    if _offline():
        return
    mark = "SELECT obj_description(oid, 'pg_extension') FROM pg_extension WHERE extname = 'pg_trgm'"
    if _scalar(mark) != _MARK:
        return  # not ours: someone else's, or gone
    try:
        with op.get_bind().begin_nested():
            op.execute("DROP EXTENSION pg_trgm")  # RESTRICT: refused if anything else uses it
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != "2BP01":  # dependent_objects_still_exist
            raise
        log.warning("pg_trgm is kept: other objects of this database use it")
