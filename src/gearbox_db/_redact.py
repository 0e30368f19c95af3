"""Keeping passwords out of what the command line prints."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["one_line", "redact", "secrets_of"]

# user:password@ of any URL, and password=... of a query string or libpq conninfo.
_URL_PASSWORD: Final = re.compile(r"(://[^\s:/@]*:)[^\s/]*@")
_KEY_PASSWORD: Final = re.compile(r"(password=)('[^']*'|[^\s&]*)", re.IGNORECASE)

_BACKGROUND: Final = re.compile(r"\s*\(Background on this error at: \S+\)")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with passwords replaced by ``***``: those of URLs in it, and ``secrets``."""
    for secret in filter(None, secrets):  # standalone only: password "b" keeps "database"
        text = re.sub(rf"(?<![^\W_]){re.escape(secret)}(?![^\W_])", "***", text)
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _KEY_PASSWORD.sub(r"\1***", text)


def secrets_of(url: str | None) -> set[str]:
    """The password of ``url`` as written and decoded (from userinfo or ``?password=``)."""
    if not url:
        return set()
    parts = urlsplit(url)
    found = {parts.password or ""} | set(parse_qs(parts.query).get("password", []))
    return {form for secret in found if secret for form in (secret, unquote(secret))}


def one_line(message: str) -> str:
    """``message`` on one line, without SQLAlchemy's link to its error catalogue."""
    message = _BACKGROUND.sub("", message)
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())
