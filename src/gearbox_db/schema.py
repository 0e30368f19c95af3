"""The PostgreSQL schema of GearBox as one SQLAlchemy ``MetaData``.

Every constraint gets a stable, explicit name from :data:`NAMING_CONVENTION`;
:mod:`gearbox_db.errors` maps those names to the library's own exceptions, so
renaming a constraint is a breaking change that needs a migration *and* a
mapping update.

The shipped migrations create exactly this schema; ``gearbox-db check`` (and
the test suite) compares a migrated database with it.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from gearbox_db._listing_indexes import TRIGRAM_INDEX, listing_indexes

__all__ = [
    "CLASSIFICATIONS",
    "LISTING_INDEXES",
    "NAMING_CONVENTION",
    "TOUCHED_TABLES",
    "TRIGRAM_INDEX",
    "UNCATEGORIZED",
    "api_keys",
    "categories",
    "category_totals",
    "items",
    "metadata",
    "oauth_clients",
    "oauth_codes",
    "oauth_tokens",
    "sessions",
    "settings",
    "setup_items",
    "setups",
    "thread_candidates",
    "threads",
    "users",
]

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata: Final = MetaData(naming_convention=NAMING_CONVENTION)

#: Name of the category that always exists and receives orphaned gear.
UNCATEGORIZED: Final = "Uncategorized"
THREAD_STATUSES: Final = ("active", "resolved")
CANDIDATE_STATUSES: Final = ("researching", "ordered", "arrived")
CLASSIFICATIONS: Final = ("base", "worn", "consumable")
CODE_CHALLENGE_METHODS: Final = ("S256", "plain")
#: Tables with an ``updated_at`` column kept moving forward by a trigger.
TOUCHED_TABLES: Final = ("items", "threads", "thread_candidates", "setups")

_SHA256_HEX: Final = "^[0-9a-f]{64}$"


def _id() -> Column[int]:
    # BY DEFAULT (not ALWAYS): explicit ids are accepted, so imports keep them.
    return Column("id", BigInteger, Identity(always=False), primary_key=True)


def _created_at() -> Column[Any]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


def _updated_at() -> Column[Any]:
    return Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now())


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _finite(column: str) -> str:
    # NaN is greater than every number in PostgreSQL, so ``< 'Infinity'`` refuses it too.
    return f"{column} > '-Infinity'::float8 AND {column} < 'Infinity'::float8"


def _weight_check() -> CheckConstraint:
    return CheckConstraint(
        f"weight_grams >= 0 AND {_finite('weight_grams')}", name="weight_grams_valid"
    )


def _price_check() -> CheckConstraint:
    return CheckConstraint("price_cents >= 0", name="price_cents_non_negative")


def _sha256_check(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} ~ '{_SHA256_HEX}'", name=f"{column}_sha256_hex")


def _category_fk(*, index: bool = True) -> Column[int]:
    return Column(
        "category_id",
        BigInteger,
        ForeignKey("categories.id", ondelete="RESTRICT"),
        nullable=False,
        index=index,
    )


def _user_fk() -> Column[int]:
    return Column(
        "user_id",
        BigInteger,
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )


def _client_fk() -> Column[str]:
    return Column(
        "client_id",
        Text,
        ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )


def _gear_columns(*, category_index: bool) -> list[Column[Any] | CheckConstraint]:
    """Columns shared by collection items and thread candidates (``category_index``: whether
    ``category_id`` has an index of its own; the listing indexes of items lead with it)."""
    return [
        Column("weight_grams", Double),
        Column("price_cents", Integer),
        _category_fk(index=category_index),
        Column("notes", Text),
        Column("product_url", Text),
        Column("image_filename", Text),
        Column("image_source_url", Text),
        _weight_check(),
        _price_check(),
    ]


categories: Final = Table(
    "categories",
    metadata,
    _id(),
    Column("name", Text, nullable=False, unique=True),
    Column("icon", Text, nullable=False, server_default=text("'package'")),
    _created_at(),
)

items: Final = Table(
    "items",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    *_gear_columns(category_index=False),
    Column("quantity", Integer, nullable=False, server_default=text("1")),
    _created_at(),
    _updated_at(),
    CheckConstraint("quantity >= 1", name="quantity_positive"),
)

#: Per-category figures of the items (rows, units, grams, cents, items without a
#: weight), kept by statement triggers on ``items`` in each writing transaction
#: (revision 0004): ``categories.list()`` and ``items.totals()`` read these rows.
category_totals: Final = Table(
    "category_totals",
    metadata,
    Column(
        "category_id",
        BigInteger,
        ForeignKey("categories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    *(
        Column(n, BigInteger, nullable=False, server_default=text("0"))
        for n in ("item_count", "unit_count")
    ),
    *(
        Column(n, Numeric, nullable=False, server_default=text("0"))
        for n in ("weight_grams", "cost_cents")
    ),
    Column("unweighed_count", BigInteger, nullable=False, server_default=text("0")),
)

threads: Final = Table(
    "threads",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'active'")),
    Column(
        "resolved_candidate_id",
        BigInteger,
        # threads and thread_candidates reference each other: use_alter adds
        # this key after both tables exist; deferrable lets a transaction
        # write both sides in either order.
        ForeignKey(
            "thread_candidates.id",
            ondelete="SET NULL",
            deferrable=True,
            initially="DEFERRED",
            use_alter=True,
        ),
        index=True,
    ),
    _category_fk(),
    _created_at(),
    _updated_at(),
    CheckConstraint(_in("status", THREAD_STATUSES), name="status_valid"),
)

thread_candidates: Final = Table(
    "thread_candidates",
    metadata,
    _id(),
    Column(
        "thread_id",
        BigInteger,
        ForeignKey("threads.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", Text, nullable=False),
    *_gear_columns(category_index=True),
    Column("status", Text, nullable=False, server_default=text("'researching'")),
    Column("pros", Text),
    Column("cons", Text),
    Column("sort_order", Double, nullable=False, server_default=text("0")),
    _created_at(),
    _updated_at(),
    CheckConstraint(_in("status", CANDIDATE_STATUSES), name="status_valid"),
    CheckConstraint(_finite("sort_order"), name="sort_order_finite"),
)

setups: Final = Table(
    "setups",
    metadata,
    _id(),
    Column("name", Text, nullable=False),
    _created_at(),
    _updated_at(),
)

setup_items: Final = Table(
    "setup_items",
    metadata,
    _id(),
    # The unique (setup_id, item_id) constraint's index serves this key too.
    Column("setup_id", BigInteger, ForeignKey("setups.id", ondelete="CASCADE"), nullable=False),
    Column(
        "item_id",
        BigInteger,
        ForeignKey("items.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("classification", Text, nullable=False, server_default=text("'base'")),
    UniqueConstraint("setup_id", "item_id"),
    CheckConstraint(_in("classification", CLASSIFICATIONS), name="classification_valid"),
)

users: Final = Table(
    "users",
    metadata,
    _id(),
    Column("username", Text, nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    _created_at(),
)

sessions: Final = Table(
    "sessions",
    metadata,
    Column("token_hash", Text, primary_key=True),
    _user_fk(),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    _created_at(),
    _sha256_check("token_hash"),
)

api_keys: Final = Table(
    "api_keys",
    metadata,
    _id(),
    _user_fk(),
    Column("name", Text, nullable=False),
    Column("key_hash", Text, nullable=False, unique=True),
    Column("key_prefix", Text, nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    _created_at(),
    # Absolute end of the key (revision 0002; keys existing then got 365 days).
    Column(
        "expires_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("(now() + '365 days'::interval)"),
    ),
    _sha256_check("key_hash"),
)

oauth_clients: Final = Table(
    "oauth_clients",
    metadata,
    _id(),
    Column("client_id", Text, nullable=False, unique=True),
    Column("client_name", Text),
    Column("redirect_uris", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    _created_at(),
)

oauth_codes: Final = Table(
    "oauth_codes",
    metadata,
    _id(),
    Column("code_hash", Text, nullable=False, unique=True),
    _client_fk(),
    _user_fk(),
    Column("redirect_uri", Text, nullable=False),
    Column("code_challenge", Text, nullable=False),
    Column("code_challenge_method", Text, nullable=False, server_default=text("'S256'")),
    Column("scope", Text),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("used", Boolean, nullable=False, server_default=false()),
    _created_at(),
    _sha256_check("code_hash"),
    CheckConstraint(
        _in("code_challenge_method", CODE_CHALLENGE_METHODS), name="code_challenge_method_valid"
    ),
)

oauth_tokens: Final = Table(
    "oauth_tokens",
    metadata,
    _id(),
    Column("access_token_hash", Text, nullable=False, unique=True),
    Column("refresh_token_hash", Text, unique=True),
    _client_fk(),
    _user_fk(),
    Column("scope", Text),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("refresh_expires_at", DateTime(timezone=True)),
    Column("revoked", Boolean, nullable=False, server_default=false()),
    _created_at(),
    # Id of the first token of this token's refresh-rotation chain (itself
    # for a token issued from a code): reuse of a rotated refresh token
    # revokes the whole family.
    Column("family_id", BigInteger, nullable=False, index=True),
    # SHA-256 of the code that issued the family (copied along rotations): a
    # replayed code revokes the tokens of its first redemption (revision 0002).
    Column("code_hash", Text, index=True),
    # Absolute end of the refresh family: rotation never extends past it.
    Column(
        "family_expires_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("(now() + '90 days'::interval)"),
    ),
    _sha256_check("access_token_hash"),
    _sha256_check("refresh_token_hash"),
    _sha256_check("code_hash"),
)

settings: Final = Table(
    "settings",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)


#: The indexes behind the keyset pages of the listings (see :mod:`gearbox_db._listing_indexes`).
LISTING_INDEXES: Final = listing_indexes(items, setups, threads, thread_candidates)
