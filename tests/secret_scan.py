"""Find raw secrets anywhere in a database: every text, varchar and text[] column of
every table of the current schema, found through information_schema (so a
table or column added later is scanned too). For the "no secret at rest" tests
of the account repositories, and of anything else that writes secrets (the
importer hashes the legacy file's raw tokens)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Text,
    any_,
    bindparam,
    column,
    func,
    literal,
    select,
    table,
    union_all,
)

__all__ = ["leaks", "text_columns"]


def text_columns(connection: Connection) -> list[tuple[str, str, bool]]:
    """Every (table, column, is_array) of the schema whose type is text-like or an array of it."""
    info = table(
        "columns",
        *(column(c) for c in ("table_schema", "table_name", "column_name", "udt_name")),
        schema="information_schema",
    )
    rows = connection.execute(
        select(info.c.table_name, info.c.column_name, info.c.udt_name)
        .where(info.c.table_schema == func.current_schema())
        .where(info.c.udt_name.in_(["text", "varchar", "bpchar", "_text", "_varchar"]))
    )
    return [(t, c, udt.startswith("_")) for t, c, udt in rows]


def _contains(secret: str) -> str:
    """A LIKE pattern matching any text that contains ``secret``."""
    escaped = secret.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def leaks(
    connection: Connection,
    secrets: Iterable[str],
    columns: list[tuple[str, str, bool]] | None = None,
) -> list[str]:
    """The ``table.column`` names (of ``columns``, default: :func:`text_columns`)
    whose values contain any of ``secrets``."""
    patterns = bindparam("patterns", [_contains(s) for s in secrets], type_=ARRAY(Text))
    queries = []
    for table_name, column_name, is_array in columns or text_columns(connection):
        source = table(table_name, column(column_name))
        value: Any = source.c[column_name]
        if is_array:
            value = func.array_to_string(value, " ")
        found = select(literal(f"{table_name}.{column_name}")).select_from(source)
        queries.append(found.where(value.like(any_(patterns))).limit(1))
    return list(connection.execute(union_all(*queries)).scalars())
