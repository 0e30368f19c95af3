"""Statements and mappers of the settings repository."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import Delete, Insert, Select, bindparam, select
from sqlalchemy import delete as delete_
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gearbox_db._queries import _validate as v
from gearbox_db._queries._common import AnyRow, found
from gearbox_db._queries._compiled import Bound, Template
from gearbox_db.schema import settings

__all__ = ["delete", "deleted", "get", "get_all", "to_dict", "to_value", "upsert"]

settings_c = settings.c


_GET: Final = Template(lambda: select(settings_c.value).where(settings_c.key == bindparam("key")))


def get(key: str) -> Bound:
    """The value of ``key``."""
    return _GET(key=v.name(key, "key"))


def to_value(value: str | None, key: str) -> str:
    """The value found for ``key`` (NotFoundError if none)."""
    return found(value, "setting", key)


def get_all() -> Select[Any]:
    """Every setting."""
    return select(settings_c.key, settings_c.value).order_by(settings_c.key)


def to_dict(rows: Sequence[AnyRow]) -> dict[str, str]:
    """The rows of :func:`get_all` as a dict."""
    return {row[0]: row[1] for row in rows}


def _upsert() -> Insert:
    statement = pg_insert(settings).values(key=bindparam("key"), value=bindparam("value"))
    return statement.on_conflict_do_update(
        index_elements=[settings_c.key], set_={"value": statement.excluded.value}
    )


_UPSERT: Final = Template(_upsert)


def upsert(key: str, value: str) -> Bound:
    """Set ``key`` to ``value``, whether it exists or not (one statement, no race)."""
    return _UPSERT(key=v.key(key, "key"), value=v.text(value, "value"))


def deleted(count: int, key: str) -> None:
    """Raise NotFoundError when the delete found nothing."""
    found(count or None, "setting", key)


def delete(key: str) -> Delete:
    """Delete ``key``."""
    return delete_(settings).where(settings_c.key == v.name(key, "key"))
