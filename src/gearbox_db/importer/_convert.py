"""Conversion of legacy SQLite values to the PostgreSQL column types. Pure: no I/O.

Every converter takes one raw value as :mod:`sqlite3` returns it (``None``,
``int``, ``float``, ``str``, or ``bytes`` for a blob and for text that is not
valid UTF-8) and returns the value to write, in the form the binary ``COPY``
of :mod:`gearbox_db.importer._writer` expects:

- text → ``str``; double precision → ``float``; integer / bigint → ``int``;
- timestamptz → ``int``, microseconds since 2000-01-01 UTC (PostgreSQL's
  own representation, written as 8 bytes);
- boolean → ``bool``; text[] → ``list[str]``.

A value that breaks a rule raises :class:`Invalid` with the rule's name and
``fix``, the value the documented repair uses instead (or a marker such as
:data:`DROP_ROW`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

__all__ = [
    "DROP_ROW",
    "INT4_MAX",
    "MAX_MILLISECONDS",
    "MIN_SECONDS",
    "MS_THRESHOLD",
    "OTHER_TIMESTAMP",
    "PG_EPOCH",
    "Invalid",
    "boolean",
    "candidate_reference",
    "enum",
    "integer",
    "price",
    "quantity",
    "redirect_uris",
    "reference",
    "secret_hash",
    "secret_hash_or_null",
    "sha256_hex",
    "shorten",
    "sort_order",
    "text",
    "text_or_null",
    "timestamp",
    "timestamp_or_null",
    "weight",
]

Converter = Callable[[Any], Any]

#: ``fix`` of a value whose row the repair drops.
DROP_ROW: Final = object()
#: ``fix`` of a timestamp the repair replaces with the row's other timestamp.
OTHER_TIMESTAMP: Final = object()

INT4_MAX: Final = 2**31 - 1
INT8_MAX: Final = 2**63 - 1
#: Epoch numbers from here on are milliseconds.
MS_THRESHOLD: Final = 10**11
#: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z as epoch seconds / milliseconds.
MIN_SECONDS: Final = -62135596800
MAX_MILLISECONDS: Final = 253402300799999
#: 2000-01-01T00:00:00Z, PostgreSQL's epoch, in unix epoch seconds.
PG_EPOCH: Final = 946684800
_PG_EPOCH_DT: Final = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_MIN_MICROS: Final = (MIN_SECONDS - PG_EPOCH) * 1_000_000
_MAX_MICROS: Final = (MAX_MILLISECONDS - PG_EPOCH * 1000) * 1000
_INTEGER_TEXT: Final = re.compile(r"[+-]?\d+")
_DECIMAL_TEXT: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
_BOOLEANS: Final = {"0": False, "1": True, "false": False, "true": True}


class Invalid(Exception):  # noqa: N818 - a rule verdict, caught within the package
    """A value breaks ``rule``; ``fix`` is what the documented repair puts instead."""

    def __init__(self, rule: str, fix: Any) -> None:
        super().__init__(rule)
        self.rule = rule
        self.fix = fix


# --- text ---------------------------------------------------------------------


def _decoded(value: bytes) -> str:
    return value.decode("utf-8", "replace").replace("\x00", "")


def text(value: Any) -> str:
    """Required text: no NUL (PostgreSQL refuses it), valid UTF-8."""
    if type(value) is str:
        if "\x00" in value:
            raise Invalid("nul_character", value.replace("\x00", ""))
        return value
    if value is None:
        raise Invalid("missing_value", "")
    if isinstance(value, bytes):
        raise Invalid("not_text", _decoded(value))
    raise Invalid("not_text", str(value))


def text_or_null(value: Any) -> str | None:
    """Optional text."""
    return None if value is None else text(value)


# --- numbers ------------------------------------------------------------------


def _number(value: Any) -> int | float:
    """An ``int`` or ``float`` from a number or numeric text; else ``not_a_number``."""
    if type(value) is int or type(value) is float:
        return value
    if isinstance(value, str):
        stripped = value.strip()
        if _INTEGER_TEXT.fullmatch(stripped):
            return int(stripped)
        if _DECIMAL_TEXT.fullmatch(stripped):
            return float(stripped)
    raise Invalid("not_a_number", None)


def _double(value: Any, fix: Any) -> float:
    try:
        number = _number(value)
    except Invalid:
        raise Invalid("not_a_number", fix) from None
    if math.isnan(number):
        raise Invalid("not_a_number", fix)
    if math.isinf(number):
        raise Invalid("infinite_number", fix)
    return float(number)


def integer(value: Any, fix: Any = None) -> int:
    """A whole number (``10``, ``10.0``, ``'10'``, ``'1e3'``), any size."""
    if type(value) is int:
        return value
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    number = _double(value, fix)
    if not number.is_integer():
        raise Invalid("not_an_integer", fix)
    return int(number)


def _int4(value: Any, fix: Any) -> int:
    number = integer(value, fix)
    if number > INT4_MAX:
        raise Invalid("out_of_range", fix)
    return number


def weight(value: Any) -> float | None:
    """Optional non-negative finite grams (a double, kept bit for bit)."""
    if type(value) is float and 0 <= value < math.inf:
        return value
    if value is None:
        return None
    grams = _double(value, None)
    if grams < 0:
        raise Invalid("negative_number", None)
    return grams


def price(value: Any) -> int | None:
    """Optional non-negative integer cents that fit PostgreSQL's ``integer``."""
    if value is None:
        return None
    cents = integer(value, None)
    if cents < 0:
        raise Invalid("negative_number", None)
    if cents > INT4_MAX:
        raise Invalid("out_of_range", None)
    return cents


def quantity(value: Any) -> int:
    """A count of at least 1; the repair makes anything else 1."""
    count = _int4(value, 1)
    if count < 1:
        raise Invalid("quantity_below_1", 1)
    return count


def sort_order(value: Any) -> float:
    """A finite double; the repair uses the legacy default 0."""
    return _double(value, 0.0)


def reference(value: Any) -> int | None:
    """The id a reference names, or ``None`` when it cannot name any row (an orphan)."""
    if type(value) is int:
        return value
    try:
        number = integer(value)
    except Invalid:
        return None
    return number if -INT8_MAX - 1 <= number <= INT8_MAX else None


def candidate_reference(value: Any) -> int | None:
    """``threads.resolved_candidate_id``: NULL or a candidate id (checked against its thread)."""
    if value is None or type(value) is int:
        return value
    try:
        return integer(value)
    except Invalid:
        raise Invalid("bad_resolved_candidate", None) from None


# --- timestamps ---------------------------------------------------------------


def _micros_from_epoch(number: int | float) -> int:
    if isinstance(number, float):
        if not math.isfinite(number):
            raise Invalid("bad_timestamp", OTHER_TIMESTAMP)
        scale = 1000 if number >= MS_THRESHOLD else 1_000_000
        micros = round(number * scale) - PG_EPOCH * 1_000_000
    elif number >= MS_THRESHOLD:
        micros = (number - PG_EPOCH * 1000) * 1000
    else:
        micros = (number - PG_EPOCH) * 1_000_000
    if not _MIN_MICROS <= micros <= _MAX_MICROS:
        raise Invalid("bad_timestamp", OTHER_TIMESTAMP)
    return micros


def _micros_from_iso(value: str) -> int:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Invalid("bad_timestamp", OTHER_TIMESTAMP) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    micros = (moment - _PG_EPOCH_DT) // _MICROSECOND
    if not _MIN_MICROS <= micros <= _MAX_MICROS:
        raise Invalid("bad_timestamp", OTHER_TIMESTAMP)
    return micros


def timestamp(value: Any) -> int:
    """Epoch seconds, epoch milliseconds (>= 10^11) or ISO-8601 text (naive = UTC).

    Returns microseconds since 2000-01-01 UTC. Fractional epochs are rounded
    to the microsecond, PostgreSQL's resolution; years 1 to 9999 only.
    """
    if type(value) is int or type(value) is float:
        return _micros_from_epoch(value)
    if isinstance(value, str):
        try:
            return _micros_from_epoch(_number(value))
        except Invalid as exc:
            if exc.rule != "not_a_number":
                raise
        return _micros_from_iso(value)
    raise Invalid("bad_timestamp", OTHER_TIMESTAMP)


def timestamp_or_null(value: Any) -> int | None:
    """Optional timestamp."""
    return None if value is None else timestamp(value)


# --- the rest -----------------------------------------------------------------


def boolean(value: Any) -> bool:
    """0/1, '0'/'1', 'true'/'false' (any case); the repair uses ``false``."""
    if (type(value) is int or type(value) is float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    raise Invalid("bad_boolean", False)


def enum(allowed: tuple[str, ...], default: str) -> Converter:
    """Converter accepting exactly ``allowed``; the repair uses ``default``."""

    def convert(value: Any) -> str:
        if value in allowed and type(value) is str:
            return str(value)
        raise Invalid("unknown_value", default)

    return convert


def sha256_hex(value: Any) -> str:
    """An already hashed secret: 64 lower-case hex digits, else the row is dropped."""
    if isinstance(value, str) and _SHA256_HEX.fullmatch(value):
        return value
    raise Invalid("bad_hash", DROP_ROW)


def secret_hash(value: Any) -> str:
    """SHA-256 hex of a raw secret (its UTF-8 bytes; a blob's own bytes)."""
    if isinstance(value, str):
        return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    if value is None:
        raise Invalid("missing_value", DROP_ROW)
    return hashlib.sha256(str(value).encode()).hexdigest()


def secret_hash_or_null(value: Any) -> str | None:
    """Optional raw secret, hashed."""
    return None if value is None else secret_hash(value)


def redirect_uris(value: Any) -> list[str]:
    """A JSON array of strings; the repair uses an empty array."""
    try:
        uris = json.loads(value) if isinstance(value, str | bytes) else None
    except ValueError:
        uris = None
    if not isinstance(uris, list) or not all(isinstance(uri, str) for uri in uris):
        raise Invalid("invalid_json", [])
    if any("\x00" in uri for uri in uris):
        raise Invalid("nul_character", [uri.replace("\x00", "") for uri in uris])
    return uris


def shorten(value: Any, limit: int = 40) -> str:
    """``value`` for a report: escaped, at most ``limit`` characters."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    shown = repr(value) if isinstance(value, str) else str(value)
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown
