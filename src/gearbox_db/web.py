"""Records as response types of web frameworks built on pydantic (FastAPI).

FastAPI refuses an attrs class as a response model. :func:`response_model`
gives the pydantic twin of a record class, built from its fields (nested
records, tuples, ``Literal`` statuses and UTC datetimes included), and
FastAPI then serialises the record itself::

    from gearbox_db.records import Item
    from gearbox_db.web import response_model

    @app.get("/items/{item_id}", response_model=response_model(Item))
    async def get_item(item_id: int, db: DB) -> Item:
        return await db.items.get(item_id)

The values are those of :func:`gearbox_db.records.to_dict` (pydantic writes
UTC as ``Z``), and the OpenAPI schema names the record's fields. Needs pydantic (FastAPI brings it).
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Any

import attrs

from gearbox_db.errors import ConfigurationError

__all__ = ["response_model"]


def _twin(annotation: Any) -> Any:
    """``annotation`` with every record class in it replaced by its pydantic twin."""
    if isinstance(annotation, type) and attrs.has(annotation):
        return response_model(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple and args:
        return tuple[tuple(_twin(arg) for arg in args)]  # type: ignore[misc]
    if origin in (typing.Union, types.UnionType):
        return functools.reduce(lambda a, b: a | b, (_twin(arg) for arg in args))
    return annotation


@functools.cache
def response_model(record: type[Any]) -> Any:
    """The pydantic model of the record class ``record`` (one per class, cached).

    Use it as a FastAPI ``response_model`` and return the record; pydantic
    reads the record's attributes.
    """
    try:
        import pydantic
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            "gearbox_db.web.response_model needs pydantic (pip install pydantic)"
        ) from exc
    if not attrs.has(record):
        raise TypeError(f"response_model() takes a gearbox_db record class, not {record!r}")
    hints = typing.get_type_hints(record)
    fields: dict[str, Any] = {
        field.name: (
            _twin(hints[field.name]),
            ... if field.default is attrs.NOTHING else field.default,
        )
        for field in attrs.fields(record)
    }
    config = pydantic.ConfigDict(from_attributes=True, frozen=True)
    return pydantic.create_model(record.__name__, __config__=config, **fields)
