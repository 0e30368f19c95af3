"""Opaque keyset-page cursors, shared by every paginated listing (no I/O).

A cursor is URL-safe base64 of ``{"v": version, "f": fingerprint, "k": key, "i": id}``:
the listing's fingerprint (sort, direction, filters) ties it to the listing that
made it, ``k`` is the last row's sort key and ``i`` its id.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, Final

from gearbox_db._queries import _validate as v
from gearbox_db.errors import ValidationError

__all__ = ["decode", "encode"]

_VERSION: Final = 1


def encode(fingerprint: str, key: Any, last_id: int) -> str:
    """The cursor of the page after the row (``key``, ``last_id``) of a listing."""
    payload = {"v": _VERSION, "f": fingerprint, "k": key, "i": last_id}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _bad(why: str) -> ValidationError:
    return ValidationError(f"invalid cursor: {why}")


def decode(
    cursor: object, fingerprint: str, key: Callable[[object], Any], mismatch: str
) -> tuple[Any, int]:
    """(sort key, id) of ``cursor``, checked against the listing's ``fingerprint``.

    ``key`` validates the sort key; ``mismatch`` says why a cursor of another
    listing does not fit. Every problem is a :class:`ValidationError`.
    """
    if not isinstance(cursor, str):
        raise _bad(f"expected a string, got {type(cursor).__name__}")
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        payload = json.loads(raw)
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise _bad("not a cursor of this library") from exc
    if not isinstance(payload, dict) or set(payload) != {"v", "f", "k", "i"}:
        raise _bad("not a cursor of this library")
    if payload["v"] != _VERSION or payload["f"] != fingerprint:
        raise _bad(mismatch)
    try:
        return key(payload["k"]), v.identifier(payload["i"])
    except ValidationError as exc:
        raise _bad(str(exc)) from exc
