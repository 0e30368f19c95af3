# ruff: noqa: S608 - every name and expression here comes from ``_tables``, never from input
"""The SQLite queries that read one table: fast-path rows and Python-path rows. Pure.

Both queries read the same inner ``SELECT`` (one alias ``c<i>`` per target
column: the legacy column, or its default when the file's release lacks
it). The fast query returns, converted by SQLite, the rows that pass the
predicates of the pass (``strict``: :attr:`Kind.ok`, else :attr:`Kind.guard`)
and whose references name imported rows; the slow query returns the raw
values of all other rows, in :attr:`Table.order`, for ``_repair``. Together
they return every row exactly once: the predicate is wrapped in
``coalesce(..., 0)``, so a NULL verdict means "not fast" instead of losing
the row.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final

from gearbox_db.importer._tables import Column, Table

__all__ = ["INT_UDF", "fast_query", "slow_query"]

#: Name of the SQLite function (registered by ``_source``) that reads a
#: reference as ``_convert.reference`` does, so SQL groups rows as Python would.
INT_UDF: Final = "gearbox_int"

Dropped = Mapping[str, Collection[int]]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _int_key(expression: str) -> str:
    """``expression`` as the integer Python would read (the UDF only for non-integers)."""
    whole = f"typeof({expression}) = 'integer'"
    return f"CASE WHEN {whole} THEN {expression} ELSE {INT_UDF}({expression}) END"


def _source(column: Column, present: Collection[str]) -> str:
    if column.legacy in present:
        return _quote(column.legacy)
    return column.default.format(thread=_int_key(_quote("thread_id")))


def _inner(table: Table, present: Collection[str], numbered: bool) -> str:
    parts = [f"{_source(col, present)} AS c{i}" for i, col in enumerate(table.columns)]
    parts.append(f"{table.order} AS o")
    if numbered and table.unique_pair is not None:
        keys = ", ".join(_int_key(_quote(name)) for name in table.unique_pair)
        parts.append(f"row_number() OVER (PARTITION BY {keys} ORDER BY id) AS rn")
    return f"SELECT {', '.join(parts)} FROM {_quote(table.name)}"


def _checks(table: Table, index: int, strict: bool, dropped: Dropped) -> list[str]:
    column = table.columns[index]
    alias = f"c{index}"
    row_id = f"c{table.names.index('id')}" if "id" in table.names else "NULL"
    predicate = column.kind.ok if strict else column.kind.guard
    checks = [] if predicate is None else [predicate.format(c=alias, id=row_id)]
    if column.ref is not None:
        checks.append(f"{alias} IN (SELECT id FROM {_quote(column.ref)})")
        gone = sorted(dropped.get(column.ref, ()))
        if gone:
            checks.append(f"{alias} NOT IN ({', '.join(map(str, gone))})")
    return checks


def _predicate(table: Table, strict: bool, dropped: Dropped) -> str:
    checks = [c for i in range(len(table.columns)) for c in _checks(table, i, strict, dropped)]
    if strict and table.unique_pair is not None:
        checks.append("rn = 1")
    joined = " AND ".join(f"({check})" for check in checks) or "1"
    return f"coalesce(({joined}), 0)"


def fast_query(table: Table, present: Collection[str], dropped: Dropped, *, strict: bool) -> str:
    """Query of the rows SQLite converts (``table.fast`` must be true)."""
    assert table.fast
    outputs = ", ".join(col.kind.out.format(c=f"c{i}") for i, col in enumerate(table.columns))
    inner = _inner(table, present, numbered=strict)
    return f"SELECT {outputs} FROM ({inner}) WHERE {_predicate(table, strict, dropped)}"


def slow_query(
    table: Table, present: Collection[str], dropped: Dropped, *, strict: bool | None
) -> str:
    """Query of the raw values (then ``rn``, if any) of the rows Python must judge.

    ``strict`` names the fast pass these rows missed; ``None``: every row.
    """
    names = [f"c{i}" for i in range(len(table.columns))]
    if table.unique_pair is not None:
        names.append("rn")
    where = ""
    if table.fast and strict is not None:
        where = f" WHERE NOT {_predicate(table, strict, dropped)}"
    inner = _inner(table, present, numbered=True)
    return f"SELECT {', '.join(names)} FROM ({inner}){where} ORDER BY o"
