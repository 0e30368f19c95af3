"""Input validation: pure functions that return the value or raise ValidationError.

The database enforces the same rules with CHECK constraints; checking here
first gives the caller a message naming the field, and keeps a transaction
usable (a refused statement aborts a PostgreSQL transaction).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from datetime import timedelta
from typing import Final, TypeVar
from urllib.parse import urlsplit

from gearbox_db.errors import ValidationError

__all__ = [
    "choice",
    "duration",
    "identifier",
    "key",
    "limit",
    "name",
    "optional_text",
    "price",
    "quantity",
    "redirect_uri",
    "redirect_uris",
    "sort_order",
    "text",
    "weight",
    "without_loopback_port",
]

INT32_MAX: Final = 2**31 - 1
INT64_MAX: Final = 2**63 - 1
_T = TypeVar("_T", bound=str)


def text(value: object, field: str) -> str:
    """Any text without NUL (may be empty)."""
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise ValidationError(f"{field} must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{field} is not valid Unicode text: {exc.reason}") from exc
    return value


def name(value: object, field: str = "name") -> str:
    """A required, non-blank text (stored exactly as given)."""
    checked = text(value, field)
    if not checked.strip():
        raise ValidationError(f"{field} must not be blank")
    return checked


#: Longest text stored in a unique (btree) index: category names, usernames, setting
#: keys, OAuth client ids. A btree entry holds at most 2,704 bytes, and a character
#: takes up to 4 bytes of UTF-8.
MAX_KEY_LENGTH: Final = 500


def key(value: object, field: str = "name") -> str:
    """A :func:`name` kept in a unique index: at most :data:`MAX_KEY_LENGTH` characters."""
    checked = name(value, field)
    if len(checked) > MAX_KEY_LENGTH:
        raise ValidationError(
            f"{field} must be at most {MAX_KEY_LENGTH} characters, got {len(checked)}"
        )
    return checked


def optional_text(value: object, field: str) -> str | None:
    """An optional text: ``None`` or any text without NUL."""
    return None if value is None else text(value, field)


def _integer(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{field} must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValidationError(f"{field} must be between {low} and {high}, got {value}")
    return value


def identifier(value: object, field: str = "id") -> int:
    """A row id (a positive 64-bit integer)."""
    return _integer(value, field, 1, INT64_MAX)


def _finite(value: object, field: str) -> float:
    """``value`` as a finite float (an int too large for a double is not one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{field} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValidationError(f"{field} must be a finite number, got {value!r:.40}")
    return number


def weight(value: object, field: str = "weight_grams") -> float | None:
    """``None`` or a finite, non-negative number of grams."""
    if value is None:
        return None
    number = _finite(value, field)
    if number < 0:
        raise ValidationError(f"{field} must be a finite number >= 0, got {value!r}")
    return number


#: Largest page a listing returns in one call: one call can still fetch a large
#: collection, and no call can ask the server for an unbounded result.
MAX_LIMIT: Final = 10_000


def limit(value: object, field: str = "limit") -> int:
    """A page size: a whole number of rows, from 1 to :data:`MAX_LIMIT`."""
    return _integer(value, field, 1, MAX_LIMIT)


def price(value: object, field: str = "price_cents") -> int | None:
    """``None`` or a non-negative whole number of cents."""
    return None if value is None else _integer(value, field, 0, INT32_MAX)


def quantity(value: object, field: str = "quantity") -> int:
    """A whole number of units, at least 1."""
    return _integer(value, field, 1, INT32_MAX)


def sort_order(value: object, field: str = "sort_order") -> float:
    """A finite number."""
    return _finite(value, field)


def choice(value: object, allowed: Collection[_T], field: str) -> _T:
    """One of ``allowed``."""
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValidationError(f"{field} must be one of {options}, got {value!r}")
    return value  # type: ignore[return-value]


_LONGEST: Final = timedelta(days=36525)
_ZERO: Final = timedelta(0)


def duration(value: object, field: str) -> timedelta:
    """A positive ``timedelta`` (a lifetime, an interval) of at most 100 years
    (longer ones would overflow PostgreSQL's timestamps)."""
    if type(value) is timedelta and _ZERO < value <= _LONGEST:  # the usual case, fast
        return value
    if not isinstance(value, timedelta):
        raise ValidationError(f"{field} must be a timedelta, got {type(value).__name__}")
    if not _ZERO < value <= _LONGEST:
        raise ValidationError(f"{field} must be positive and at most 100 years, got {value}")
    return value


_URI_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
#: Schemes that run or read something instead of redirecting to an application.
REFUSED_SCHEMES: Final = frozenset(
    {"javascript", "data", "vbscript", "file", "about", "blob", "filesystem"}
)
#: The port of a loopback ``http`` redirect URI (group 1: what comes before it);
#: the same pattern runs in PostgreSQL (``regexp_replace(..., 'i')``) and here.
LOOPBACK_PORT: Final = r"^(http://(localhost|127\.0\.0\.1|\[::1\])):[0-9]*(?=[/?]|$)"


def without_loopback_port(uri: str) -> str:
    """``uri`` without its port if it is a loopback ``http`` URI (RFC 8252 section 7.3:
    a native client listens on a port of its choosing), else ``uri`` itself."""
    return re.sub(LOOPBACK_PORT, r"\1", uri, flags=re.IGNORECASE)


def redirect_uri(value: object, field: str = "redirect_uri") -> str:
    """An OAuth redirect URI: absolute, without fragment (RFC 6749 section 3.1.2),
    without whitespace or control characters; ``http`` only for a loopback host
    (OAuth 2.1: ``https``, or a private-use scheme of a native app); never one of
    :data:`REFUSED_SCHEMES` (``javascript:``, ``data:``, ``file:``, ...)."""
    uri = text(value, field)
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in uri):
        raise ValidationError(f"{field} must not contain whitespace or control characters")
    if "#" in uri:
        raise ValidationError(f"{field} must not contain a fragment")
    try:
        parts = urlsplit(uri)
        host, _ = parts.hostname, parts.port
    except ValueError as exc:
        raise ValidationError(f"{field} is not a valid URI: {exc}") from exc
    if not _URI_SCHEME.fullmatch(parts.scheme):
        raise ValidationError(f"{field} must be an absolute URI (with a scheme)")
    scheme = parts.scheme.lower()
    if scheme in REFUSED_SCHEMES:
        raise ValidationError(f"{field} must not use the scheme {scheme!r}")
    if scheme in {"http", "https"} and not host:
        raise ValidationError(f"{field} must name a host")
    if scheme == "http" and host not in _LOOPBACK_HOSTS:
        raise ValidationError(f"{field} must use https (http only for a loopback host)")
    return uri


def redirect_uris(values: object, field: str = "redirect_uris") -> list[str]:
    """At least one :func:`redirect_uri`, duplicates dropped (first occurrence kept)."""
    if isinstance(values, str | bytes) or not isinstance(values, Collection):
        raise ValidationError(f"{field} must be a list of URIs")
    checked = [redirect_uri(uri, field) for uri in values]
    if not checked:
        raise ValidationError(f"{field} must hold at least one URI")
    return list(dict.fromkeys(checked))
