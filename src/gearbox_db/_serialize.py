"""Records as JSON-ready values (no I/O, no third-party dependency)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import attrs

__all__ = ["to_dict", "to_json_value"]


def to_json_value(value: Any) -> Any:
    """``value`` with records, tuples and datetimes turned into JSON's types."""
    if attrs.has(type(value)):
        return to_dict(value)
    if isinstance(value, tuple | list):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def to_dict(record: Any) -> dict[str, Any]:
    """A record as a dict ``json.dumps`` accepts, ready to return from a web API.

    Every field is included: nested records become dicts, tuples become
    lists, datetimes ISO 8601 strings (UTC, with their ``+00:00`` offset).
    The raw secret of ``NewSession``, ``NewApiKey`` and ``IssuedTokens`` is
    included too (it is returned to its owner this once): log the record,
    whose ``repr`` leaves it out, not this dict.
    """
    if not attrs.has(type(record)):
        raise TypeError(f"to_dict() takes a gearbox_db record, not {type(record).__name__}")
    return {
        field.name: to_json_value(getattr(record, field.name))
        for field in attrs.fields(type(record))
    }
