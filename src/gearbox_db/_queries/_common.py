"""Helpers shared by the statement builders."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, TypeAlias, TypeVar

import attrs
from sqlalchemy import ColumnElement, DateTime, FromClause, bindparam, func, literal

from gearbox_db.errors import NotFoundError, ValidationError
from gearbox_db.shapes import UNSET, Check, Unset

__all__ = [
    "NOW",
    "UNSET",
    "AnyRow",
    "Checks",
    "Clock",
    "Unset",
    "at",
    "checked",
    "columns_for",
    "found",
    "now",
    "patch",
    "row_to",
    "rows_to",
    "set_values",
]

_R = TypeVar("_R")

#: A function returning the current time (an aware ``datetime``); ``None`` means
#: the database's own ``now()``.
Clock: TypeAlias = Callable[[], datetime]

#: A result row of any width: psycopg's plain tuple.
AnyRow: TypeAlias = tuple[Any, ...]


def columns_for(record: type[Any], source: FromClause, **extra: ColumnElement[Any]) -> list[Any]:
    """The columns of ``source`` (a table, or a CTE of its rows) in the field order of
    ``record`` (so ``record(*row)`` maps a row); fields that are not columns of
    ``source`` come from ``extra``."""
    return [extra[f.name] if f.name in extra else source.c[f.name] for f in attrs.fields(record)]


def now(clock: Clock | None) -> ColumnElement[datetime]:
    """The current time for a statement: the injected clock's, else the database's."""
    if clock is None:
        return func.now()
    return literal(clock(), DateTime(timezone=True))


#: The current time inside a :class:`~._compiled.Template`: its ``now`` parameter
#: (:func:`at`), or the database's ``now()`` when that is ``None``.
NOW: Final = func.coalesce(bindparam("now", type_=DateTime(timezone=True)), func.now())


def at(clock: Clock | None) -> datetime | None:
    """The value of :data:`NOW`'s parameter: the injected clock's time, else ``None``."""
    return None if clock is None else clock()


def found(row: _R | None, what: str, key: object) -> _R:
    """``row``, or NotFoundError naming what was looked for."""
    if row is None:
        raise NotFoundError(f"{what} {key!r} does not exist")
    return row


def set_values(**values: object) -> dict[str, object]:
    """The fields of a partial update that are set (not :data:`UNSET`)."""
    return {key: value for key, value in values.items() if value is not UNSET}


#: Validators of writable fields by name: ``check(value, field_name)`` returns the
#: value to store or raises ValidationError naming the field.
Checks: TypeAlias = Mapping[str, Check]


def checked(
    fields: Mapping[str, object], checks: Checks, required: Collection[str] = ()
) -> dict[str, object]:
    """Every field of ``fields`` validated by its check; TypeError (as for a call)
    for a field that has no check or a ``required`` one that is missing."""
    unknown = [key for key in fields if key not in checks]
    if unknown:
        raise TypeError(f"unexpected keyword argument {unknown[0]!r}")
    missing = [key for key in required if key not in fields]
    if missing:
        raise TypeError(f"missing required keyword argument {missing[0]!r}")
    return {key: checks[key](value, key) for key, value in fields.items()}


def patch(fields: Mapping[str, object], checks: Checks) -> dict[str, object]:
    """The validated fields of a partial update: those not :data:`UNSET`.

    Raises ValidationError when nothing would change.
    """
    changes = checked(set_values(**fields), checks)
    if not changes:
        raise ValidationError(f"nothing to update: give at least one of {', '.join(checks)}")
    return changes


def rows_to(record: Callable[..., _R], rows: Sequence[AnyRow]) -> tuple[_R, ...]:
    """Map rows selected with :func:`columns_for` to records."""
    return tuple(record(*row) for row in rows)


def row_to(record: Callable[..., _R], row: AnyRow | None, what: str, key: object) -> _R:
    """Map one row selected with :func:`columns_for` (NotFoundError naming ``what`` if none)."""
    return record(*found(row, what, key))
