"""Statements compiled to the driver's SQL once per shape (no I/O).

SQLAlchemy Core builds every statement; psycopg runs the SQL text. Two
ways lead from one to the other, both compiling a statement's shape once:

* :class:`Template`: a statement of fixed shape, built with named
  ``bindparam``\\ s, compiled the first time it is used; a call binds values
  to it without building anything (the hot operations).
* :func:`bind`: any statement, compiled once per shape through SQLAlchemy's
  own cache key (a partial update, a filtered listing: shapes vary, values
  too), its values extracted on every call.

Either way the executor receives a :class:`Bound`: the SQL text with
``%(name)s`` placeholders and its parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
from sqlalchemy.dialects.postgresql import psycopg as _psycopg_dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.util import LRUCache

__all__ = ["Bound", "Statement", "Template", "bind", "compile_once"]

#: The dialect the SQL is compiled for (psycopg 3; ``%(name)s`` placeholders).
DIALECT: Final = _psycopg_dialect.dialect()  # type: ignore[no-untyped-call]
#: Compiled shapes by SQLAlchemy cache key. Shapes are finite (they come from
#: the code, not the data), so the cache is sized to hold all of them.
_SHAPES: Final[LRUCache[Any, Compiled]] = LRUCache(2000)


@attrs.frozen(slots=True)
class Bound:
    """SQL text for psycopg and the values of its ``%(name)s`` placeholders."""

    sql: str
    params: Mapping[str, Any]


#: What the executor takes: a bound template, or any SQLAlchemy statement.
Statement = Bound | Executable


def _checked(compiled: Compiled) -> Compiled:
    """``compiled``, refused if running it needs SQLAlchemy's execution machinery."""
    binds = compiled.binds.values()  # type: ignore[attr-defined]  # SQLCompiler's
    if any(getattr(b, "expanding", False) for b in binds):
        raise TypeError("gearbox_db statements use '= ANY(array)', not IN with a list")
    return compiled


def _processed(compiled: Compiled, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` through the bind processors of their types (arrays: lists), if any."""
    processors = getattr(compiled, "_bind_processors", None)
    if processors:
        for name, process in processors.items():
            if params.get(name) is not None:
                params[name] = process(params[name])
    return params


def compile_once(statement: Executable) -> Compiled:
    """``statement`` compiled for psycopg, checked to need nothing but its values."""
    if not isinstance(statement, ClauseElement):
        raise TypeError(f"not a SQLAlchemy statement: {statement!r}")
    return _checked(statement.compile(dialect=DIALECT))


def bind(statement: Executable) -> Bound:
    """``statement`` as SQL text and values, its shape compiled once (cached)."""
    compiled, extracted, *_ = statement._compile_w_cache(
        DIALECT,
        compiled_cache=_SHAPES,
        column_keys=[],
        for_executemany=False,
        schema_translate_map=None,
    )
    if not getattr(compiled, "_gearbox_checked", False):
        _checked(compiled)._gearbox_checked = True  # type: ignore[attr-defined]
    params = compiled.construct_params(extracted_parameters=extracted, escape_names=False)
    return Bound(compiled.string, _processed(compiled, dict(params or {})))


class Template:
    """A statement of fixed shape, compiled the first time it is bound.

    ``build`` returns the statement, its variable parts written as
    ``bindparam("name")``; calling the template with those names binds
    values without building or compiling anything again.
    """

    __slots__ = ("_build", "_compiled", "_defaults", "_names", "_sql", "_statement")

    def __init__(self, build: Callable[[], Executable]) -> None:
        self._build = build
        self._sql: str | None = None
        self._compiled: Compiled | None = None
        self._defaults: dict[str, Any] = {}
        self._names: frozenset[str] = frozenset()
        self._statement: Executable | None = None

    @property
    def statement(self) -> Executable:
        """The SQLAlchemy statement (built once): for tests and tools that inspect it."""
        if self._statement is None:
            self._statement = self._build()
        return self._statement

    def _compile(self) -> str:
        compiled = compile_once(self.statement)
        self._defaults = dict(compiled.params)
        self._names = frozenset(self._defaults)
        if getattr(compiled, "_bind_processors", None):
            self._compiled = compiled  # values need converting on every call
        self._sql = compiled.string
        return self._sql

    @property
    def sql(self) -> str:
        """The SQL text (compiled on first use)."""
        return self._sql or self._compile()

    def __call__(self, **values: Any) -> Bound:
        """The template with ``values`` bound to its parameters."""
        sql = self._sql or self._compile()
        if not values.keys() <= self._names:
            unknown = ", ".join(sorted(values.keys() - self._names))
            raise TypeError(f"not a parameter of this statement: {unknown}")
        params = {**self._defaults, **values}
        if self._compiled is not None:
            params = _processed(self._compiled, params)
        return Bound(sql, params)
