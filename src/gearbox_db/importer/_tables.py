"""What the importer knows about each table: legacy columns, target columns, rules.

Each target column has a :class:`Kind`: its Python converter (the authority
on what is valid, :mod:`._convert`), its binary COPY type, and the SQLite
side of the *fast path*, where SQLite converts a row and it goes straight to
COPY without per-value Python. Two predicates decide which rows may:

``ok`` (strict)
    true only for values the converter keeps as they are. The predicate may
    refuse valid values (they just take the Python path); it must never
    accept a value the converter would refuse or change.
``guard`` (optimistic)
    only what PostgreSQL and psycopg would not refuse themselves. Anything
    else wrong that passes (a NUL, a negative weight, an unknown status, a
    blob, a duplicate pair) makes PostgreSQL refuse the COPY (CHECK, NOT
    NULL, UNIQUE, UTF-8 validation) or psycopg refuse the value (type); the
    table is then read again with the strict predicates. ``None``: no check.

The optimistic pass costs clean files almost nothing; a table with problems
is read twice. Dry runs (nothing refuses anything) use the strict predicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import attrs

from gearbox_db._queries import _validate as v
from gearbox_db.importer import _convert as cv
from gearbox_db.schema import CANDIDATE_STATUSES, CLASSIFICATIONS, THREAD_STATUSES
from gearbox_db.shapes import Check, GearDetails, checks_of

__all__ = ["TABLES", "Column", "Kind", "Table", "by_name"]


@attrs.frozen
class Kind:
    """How one column's values are checked, converted and written."""

    convert: cv.Converter
    #: Binary COPY type (timestamps go as int8: microseconds since 2000).
    pg_type: str
    #: Strict SQLite predicate (``{c}`` is the value): values ``convert`` keeps
    #: as they are; ``None`` when only Python may judge.
    ok: str | None
    #: SQLite expression giving the converted value of a fast-path value.
    out: str = "{c}"
    #: Optimistic SQLite predicate; ``None``: PostgreSQL and psycopg refuse the rest.
    guard: str | None = None
    #: Python function applied to the value ``out`` gives (hashing a secret).
    post: cv.Converter | None = None


def _nullable(sql: str) -> str:
    return f"({{c}} IS NULL OR ({sql}))"


_TEXT_OK: Final = "typeof({c}) = 'text' AND instr({c}, char(0)) = 0"
_INT4: Final = f"{{c}} BETWEEN {-cv.INT4_MAX - 1} AND {cv.INT4_MAX}"
_TS_OK: Final = (
    f"typeof({{c}}) = 'integer' AND {{c}} BETWEEN {cv.MIN_SECONDS} AND {cv.MAX_MILLISECONDS}"
)
# NULL for anything but an epoch in range: NOT NULL refuses it in the optimistic pass.
_TS_OUT: Final = (
    f"CASE WHEN NOT ({_TS_OK}) THEN NULL "
    f"WHEN {{c}} < {cv.MS_THRESHOLD} THEN ({{c}} - {cv.PG_EPOCH}) * 1000000 "
    f"ELSE ({{c}} - {cv.PG_EPOCH * 1000}) * 1000 END"
)
_FINITE: Final = "{c} > -9e999 AND {c} < 9e999"

ID: Final = Kind(cv.integer, "int8", "typeof({c}) = 'integer'")
#: A reference to another table's id; anything that names no row is an orphan.
REF: Final = Kind(cv.reference, "int8", "typeof({c}) = 'integer'")
TEXT: Final = Kind(cv.text, "text", _TEXT_OK)
TEXT_NULL: Final = Kind(cv.text_or_null, "text", _nullable(_TEXT_OK))
WEIGHT: Final = Kind(
    cv.weight, "float8", _nullable(f"typeof({{c}}) = 'real' AND {{c}} >= 0 AND {_FINITE}")
)
PRICE: Final = Kind(
    cv.price,
    "int4",
    _nullable(f"typeof({{c}}) = 'integer' AND {{c}} BETWEEN 0 AND {cv.INT4_MAX}"),
    guard=_nullable(_INT4),  # psycopg's int4 dumper wraps larger numbers around
)
QUANTITY: Final = Kind(
    cv.quantity,
    "int4",
    f"typeof({{c}}) = 'integer' AND {{c}} BETWEEN 1 AND {cv.INT4_MAX}",
    guard=_INT4,
)
SORT_ORDER: Final = Kind(
    cv.sort_order, "float8", f"typeof({{c}}) IN ('real', 'integer') AND {_FINITE}"
)
TIMESTAMP: Final = Kind(cv.timestamp, "int8", _TS_OK, _TS_OUT)
TIMESTAMP_NULL: Final = Kind(
    cv.timestamp_or_null, "int8", _nullable(_TS_OK), _TS_OUT, guard=_nullable(_TS_OK)
)
BOOLEAN: Final = Kind(cv.boolean, "bool", None)
SHA256: Final = Kind(cv.sha256_hex, "text", None)
#: A raw secret, hashed; text ones on the fast path too (hashed by ``post``).
SECRET: Final = Kind(
    cv.secret_hash,
    "text",
    "typeof({c}) = 'text'",
    guard="typeof({c}) = 'text'",
    post=cv.secret_hash,
)
SECRET_NULL: Final = Kind(cv.secret_hash_or_null, "text", None)
URIS: Final = Kind(cv.redirect_uris, "text[]", None)
_SAME_THREAD: Final = _nullable(
    "typeof({c}) = 'integer' AND EXISTS (SELECT 1 FROM thread_candidates AS tc "
    "WHERE tc.id = {c} AND tc.thread_id = {id})"
)
#: threads.resolved_candidate_id: NULL, or a candidate of the same thread (``{id}``).
RESOLVED: Final = Kind(cv.candidate_reference, "int8", _SAME_THREAD, guard=_SAME_THREAD)


def _enum(allowed: tuple[str, ...], default: str) -> Kind:
    listed = ", ".join(f"'{value}'" for value in allowed)
    return Kind(
        cv.enum(allowed, default), "text", f"typeof({{c}}) = 'text' AND {{c}} IN ({listed})"
    )


@attrs.frozen
class Column:
    """One target column and where its value comes from."""

    name: str
    kind: Kind
    #: Legacy column it is read from (default: the same name).
    source: str | None = None
    #: SQLite expression used when the file lacks ``source`` (older releases).
    default: str = "NULL"
    #: Table whose ``id`` (``client_id`` for OAuth clients) this column references.
    ref: str | None = None
    #: Repair of an orphan: ``drop`` the row or move it to ``uncategorized``.
    orphan: str = "drop"
    #: Values must be unique in the table (duplicates after the lowest id are dropped).
    unique: bool = False
    #: Never show the value in a report.
    secret: bool = False
    #: Columns whose value repairs a bad timestamp here, in order of preference.
    fallback: tuple[str, ...] = ()

    @property
    def legacy(self) -> str:
        """Name of the legacy column."""
        return self.source or self.name


@attrs.frozen
class Table:
    """One table: its columns in COPY order, and how its rows are keyed and ordered."""

    name: str
    columns: tuple[Column, ...]
    #: Target column identifying a row in reports (a session: its token hash).
    key: str = "id"
    #: Legacy expression the rows are read in order of (lowest first wins duplicates).
    order: str = "id"
    #: Whether rows may take the fast path (not for tables whose unique values
    #: SQLite did not enforce, nor for values only Python can judge).
    fast: bool = True
    #: Whether the table has an identity ``id`` to continue after the import.
    identity: bool = True
    #: Column other tables reference (``client_id`` for OAuth clients).
    ref_key: str = "id"
    #: Two columns whose pair must be unique (duplicates after the lowest id are dropped).
    unique_pair: tuple[str, str] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Target column names in COPY order."""
        return tuple(column.name for column in self.columns)

    @property
    def needs(self) -> frozenset[str]:
        """Other tables the fast-path predicates read."""
        refs = {column.ref for column in self.columns if column.ref is not None}
        if any(column.kind is RESOLVED for column in self.columns):
            refs.add("thread_candidates")
        return frozenset(refs)

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return next(column for column in self.columns if column.name == name)


def _created(*others: str) -> Column:
    return Column("created_at", TIMESTAMP, fallback=others)


def _category() -> Column:
    return Column("category_id", REF, ref="categories", orphan="uncategorized")


def _user() -> Column:
    return Column("user_id", REF, ref="users")


#: The importer's kind of each check of :class:`~gearbox_db.shapes.GearDetails`.
_KIND_OF_CHECK: Final[Mapping[Check, Kind]] = {
    v.weight: WEIGHT,
    v.price: PRICE,
    v.optional_text: TEXT_NULL,
}


def _gear() -> tuple[Column, ...]:
    """The columns of every piece of gear: its name, category and details."""
    details = checks_of(GearDetails).items()
    return (
        Column("name", TEXT),
        _category(),
        *(Column(name, _KIND_OF_CHECK[check]) for name, check in details),
    )


_ID: Final = Column("id", ID)
_TOUCHED: Final = (
    _created("updated_at"),
    Column("updated_at", TIMESTAMP, fallback=("created_at",)),
)
#: Position of a candidate by id within its thread: 0, 1, 2, ...
POSITION: Final = "row_number() OVER (PARTITION BY {thread} ORDER BY id) - 1"

TABLES: Final[tuple[Table, ...]] = (
    Table(
        "categories",
        (_ID, Column("name", TEXT, unique=True), Column("icon", TEXT), _created()),
        fast=False,
    ),
    Table("items", (_ID, *_gear(), Column("quantity", QUANTITY, default="1"), *_TOUCHED)),
    Table(
        "threads",
        (
            _ID,
            Column("name", TEXT),
            Column("status", _enum(THREAD_STATUSES, "active")),
            Column("resolved_candidate_id", RESOLVED),
            _category(),
            *_TOUCHED,
        ),
    ),
    Table(
        "thread_candidates",
        (
            _ID,
            Column("thread_id", REF, ref="threads"),
            *_gear(),
            Column("status", _enum(CANDIDATE_STATUSES, "researching"), default="'researching'"),
            Column("pros", TEXT_NULL),
            Column("cons", TEXT_NULL),
            Column("sort_order", SORT_ORDER, default=POSITION),
            *_TOUCHED,
        ),
    ),
    Table("setups", (_ID, Column("name", TEXT), *_TOUCHED)),
    Table(
        "setup_items",
        (
            _ID,
            Column("setup_id", REF, ref="setups"),
            Column("item_id", REF, ref="items"),
            Column("classification", _enum(CLASSIFICATIONS, "base")),
        ),
        unique_pair=("setup_id", "item_id"),
    ),
    Table(
        "users",
        (
            _ID,
            Column("username", TEXT, unique=True),
            Column("password_hash", TEXT, secret=True),
            _created(),
        ),
        fast=False,
    ),
    Table(
        "sessions",
        (
            Column("token_hash", SECRET, source="id", unique=True, secret=True),
            _user(),
            Column("expires_at", TIMESTAMP, fallback=("created_at",)),
            _created("expires_at"),
        ),
        key="token_hash",
        order="rowid",
        identity=False,
    ),
    Table(
        "api_keys",
        (
            _ID,
            _user(),
            Column("name", TEXT),
            Column("key_hash", SHA256, unique=True, secret=True),
            Column("key_prefix", TEXT),
            Column("last_used_at", TIMESTAMP_NULL, fallback=("created_at",)),
            _created(),
        ),
        fast=False,
    ),
    Table(
        "oauth_clients",
        (
            _ID,
            Column("client_id", TEXT, unique=True),
            Column("client_name", TEXT_NULL),
            Column("redirect_uris", URIS),
            _created(),
        ),
        fast=False,
        ref_key="client_id",
    ),
    Table(
        "oauth_codes",
        (
            _ID,
            Column("code_hash", SECRET, source="code", unique=True, secret=True),
            Column("client_id", TEXT, ref="oauth_clients"),
            _user(),
            Column("redirect_uri", TEXT),
            Column("code_challenge", TEXT),
            Column("code_challenge_method", _enum(("S256", "plain"), "S256")),
            Column("scope", TEXT_NULL),
            Column("expires_at", TIMESTAMP, fallback=("created_at",)),
            Column("used", BOOLEAN),
            _created("expires_at"),
        ),
        fast=False,
    ),
    Table(
        "oauth_tokens",
        (
            _ID,
            Column("access_token_hash", SECRET, source="access_token", unique=True, secret=True),
            Column(
                "refresh_token_hash", SECRET_NULL, source="refresh_token", unique=True, secret=True
            ),
            Column("client_id", TEXT, ref="oauth_clients"),
            _user(),
            Column("scope", TEXT_NULL),
            Column("expires_at", TIMESTAMP, fallback=("created_at",)),
            Column("refresh_expires_at", TIMESTAMP_NULL, fallback=("expires_at", "created_at")),
            Column("revoked", BOOLEAN),
            _created("expires_at"),
            # An imported token starts its own refresh-rotation family.
            Column("family_id", ID, source="id"),
        ),
        fast=False,
    ),
    Table(
        "settings",
        (Column("key", TEXT, unique=True), Column("value", TEXT)),
        key="key",
        order="rowid",
        fast=False,
        identity=False,
    ),
)

_BY_NAME: Final[Mapping[str, Table]] = {table.name: table for table in TABLES}


def by_name(name: str) -> Table:
    """The table called ``name``."""
    return _BY_NAME[name]


def present(table: Table, columns: Sequence[str]) -> tuple[bool, ...]:
    """For each column of ``table``, whether the file has its legacy column."""
    return tuple(column.legacy in columns for column in table.columns)
