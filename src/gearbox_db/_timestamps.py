"""``timestamptz`` values read correctly whatever the session's ``TimeZone``.

The server sends a ``timestamptz`` as text in the session's time zone. Near
the ends of Python's range that local text falls outside it: 9999-12-31
23:30 UTC is ``10000-01-01 00:30:00+01`` in Paris, which psycopg cannot load
(a valid instant, accepted by the importer, would break every read of its
row). Sessions the library opens run in UTC, but a caller's connection
(:meth:`Database.from_connection`, :meth:`Database.from_engine`) or a pooler
dropping startup options may not. The loader registered here keeps
psycopg's own (fast, C) loading and, only when that fails, converts the
local text to UTC itself.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import Loader
from psycopg.pq import Format
from sqlalchemy import event

__all__ = ["UTCFallbackTimestamptzLoader", "listen_on", "register_on", "register_on_driver"]

_BaseLoader: Any = psycopg.adapters.get_loader(
    psycopg.adapters.types["timestamptz"].oid, Format.TEXT
)
# DateStyle ISO (which psycopg requires): 'Y-M-D h:m:s[.f]+hh[:mm[:ss]][ BC]'.
_ISO: Final = re.compile(
    rb"(\d+)-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?"
    rb"([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?( BC)?"
)
#: 400 Gregorian years are exactly this many days: shifting a date by 400 years
#: keeps its month, day and weekday arithmetic exact.
_CYCLE_DAYS: Final = 146097


def _to_utc(data: bytes) -> datetime | None:
    """The UTC instant of a local ISO timestamp outside Python's years, if in range."""
    match = _ISO.fullmatch(data)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    micro = int((match[7] or b"0").ljust(6, b"0"))
    if match[12]:  # BC: 1 BC is year 0
        year = 1 - year
    cycles = (year - 5000) // 400  # bring the year near the middle of 1..9999
    local = datetime(year - 400 * cycles, month, day, hour, minute, second, micro)
    sign = -1 if match[8] == b"-" else 1
    offset = timedelta(
        hours=int(match[9]), minutes=int(match[10] or 0), seconds=int(match[11] or 0)
    )
    shifted = local - sign * offset
    try:
        return (shifted + timedelta(days=_CYCLE_DAYS * cycles)).replace(tzinfo=UTC)
    except OverflowError:
        return None


def _utc_session(context: AdaptContext | None) -> bool:
    """Whether the session of ``context`` runs at UTC offset 0 at both ends of the years."""
    connection = getattr(context, "connection", None)
    if connection is None:
        return False
    try:
        zone = connection.info.timezone
    except psycopg.Error:
        return False
    return all(zone.utcoffset(moment) == timedelta(0) for moment in _ENDS)


_ENDS: Final = (datetime(1, 1, 2), datetime(9999, 12, 30))


class UTCFallbackTimestamptzLoader(Loader):
    """psycopg's text ``timestamptz`` loader, falling back to a UTC conversion of
    its own for local times outside years 1-9999 (the instant itself is inside).

    Every value comes back in UTC, whatever the session's ``TimeZone``: the
    library relies on no session setting (a transaction pooler may hand each
    transaction a server session with another one). psycopg makes a loader per
    result; in a UTC session that is psycopg's own C loader, untouched: no cost
    on the hot paths.
    """

    def __new__(cls, oid: int, context: AdaptContext | None = None) -> Any:
        if _utc_session(context):
            return _BaseLoader(oid, context)
        return super().__new__(cls)

    def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        self._load = _BaseLoader(oid, context).load

    def load(self, data: Buffer) -> datetime:
        try:
            value: datetime = self._load(data)
        except psycopg.DataError:
            utc = _to_utc(bytes(data))
            if utc is None:
                raise
            return utc
        # A session in another time zone (a pooler's, a caller's): records are in UTC.
        return value.astimezone(UTC)


def register_on_driver(driver_connection: Any) -> None:
    """Use the loader on a psycopg connection (sync or async)."""
    driver_connection.adapters.register_loader("timestamptz", UTCFallbackTimestamptzLoader)


def register_on(connection: Any) -> None:
    """Use the loader on a SQLAlchemy connection (sync, or async once started)."""
    sync = getattr(connection, "sync_connection", connection)
    if sync is not None:
        register_on_driver(sync.connection.driver_connection)


def _on_pool_event(dbapi_connection: Any, *_: Any) -> None:
    register_on_driver(getattr(dbapi_connection, "driver_connection", dbapi_connection))


def listen_on(engine: Any, *, existing: bool) -> None:
    """Use the loader on every connection of a SQLAlchemy engine (sync or async):
    those it opens, and with ``existing`` those already in its pool (at checkout)."""
    target = getattr(engine, "sync_engine", engine)
    name = "checkout" if existing else "connect"
    if not event.contains(target, name, _on_pool_event):
        event.listen(target, name, _on_pool_event)
