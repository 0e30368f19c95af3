"""Keeping secrets out of SQLAlchemy's logs (echo, DEBUG logging) of our engines."""

from __future__ import annotations

import logging
import re
from typing import Any, Final

__all__ = ["protect_logs"]

#: Values that are secrets wherever they appear: argon2 PHC strings, and the
#: SHA-256 hex digests of tokens, keys and codes.
_SECRET_VALUE: Final = re.compile(r"\$argon2[^'\"\s,)]*|\b[0-9a-f]{64}\b")


class _HideSecretValues(logging.Filter):
    """Replaces password and token hashes in a record's message (rows, parameters) by ***."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SECRET_VALUE.search(message):
            record.msg, record.args = _SECRET_VALUE.sub("***", message), ()
        return True


_FILTER: Final = _HideSecretValues()


def protect_logs(engine: Any) -> None:
    """Hide secret values in what ``engine`` (sync or async) logs.

    SQLAlchemy logs result rows at DEBUG level (``echo="debug"``), and a user
    row carries its argon2id hash; parameters are hidden by the engine's
    ``hide_parameters``, rows by this filter on the engine's logger.
    """
    engine = getattr(engine, "sync_engine", engine)
    name = "sqlalchemy.engine.Engine"
    if engine.logging_name:
        name = f"{name}.{engine.logging_name}"
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
