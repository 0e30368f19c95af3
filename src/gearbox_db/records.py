"""What the repositories return: frozen attrs records.

Records are plain immutable values: they hold no connection and load
nothing lazily. Weights are grams (``float``), prices are cents (``int``),
timestamps are timezone-aware ``datetime`` objects in UTC.
:func:`to_dict` turns any of them into JSON-ready values (for a web API's
responses: docs/service.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

import attrs

from gearbox_db._serialize import to_dict

__all__ = [
    "AccessGrant",
    "ApiKey",
    "Candidate",
    "CandidateStatus",
    "Category",
    "CategorySummary",
    "CategoryTotals",
    "Classification",
    "CollectionTotals",
    "IssuedTokens",
    "Item",
    "ItemPage",
    "ItemSort",
    "NewApiKey",
    "NewSession",
    "OAuthClient",
    "OAuthToken",
    "Resolution",
    "Session",
    "Setup",
    "SetupDetail",
    "SetupEntry",
    "SetupPage",
    "SetupSummary",
    "SetupTotals",
    "Thread",
    "ThreadDetail",
    "ThreadPage",
    "ThreadStatus",
    "ThreadSummary",
    "User",
    "to_dict",
]

ThreadStatus = Literal["active", "resolved"]
CandidateStatus = Literal["researching", "ordered", "arrived"]
Classification = Literal["base", "worn", "consumable"]
ItemSort = Literal["name", "weight", "price", "created"]


@attrs.frozen
class Category:
    """A category of the collection."""

    id: int
    name: str
    icon: str
    created_at: datetime


@attrs.frozen
class CategorySummary:
    """A category with the figures of its items: ``item_count`` items (rows, not
    units); weight and cost count every unit."""

    id: int
    name: str
    icon: str
    created_at: datetime
    item_count: int
    total_weight_grams: float
    total_cost_cents: int = attrs.field(converter=int)  # a numeric sum: exact


# No __weakref__ slot: listings build Items through a mutable twin with the
# same slots, then retype them (gearbox_db._queries.item_pages.records, 2-3x
# faster than the frozen __init__); CPython allows that only between identical
# slot layouts, which a __weakref__ slot breaks.
@attrs.frozen(weakref_slot=False)
class Item:
    """A piece of gear of the collection, with the name and icon of its category."""

    id: int
    name: str
    weight_grams: float | None
    price_cents: int | None
    category_id: int
    notes: str | None
    product_url: str | None
    image_filename: str | None
    image_source_url: str | None
    quantity: int
    created_at: datetime
    updated_at: datetime
    category_name: str
    category_icon: str


@attrs.frozen
class ItemPage:
    """One page of a listing of items.

    ``next_cursor`` is ``None`` on the last page; ``total`` is ``None``
    unless the listing was asked to count.
    """

    items: tuple[Item, ...]
    next_cursor: str | None
    total: int | None = None


@attrs.frozen
class CollectionTotals:
    """Figures of the whole collection (every unit of every item): ``unit_count``
    is the sum of the quantities; ``unweighed_count`` counts items (rows)."""

    unit_count: int
    total_weight_grams: float
    total_cost_cents: int
    unweighed_count: int


@attrs.frozen
class Thread:
    """A purchase-research thread."""

    id: int
    name: str
    status: ThreadStatus
    resolved_candidate_id: int | None
    category_id: int
    created_at: datetime
    updated_at: datetime


@attrs.frozen
class Candidate:
    """A product considered in a thread."""

    id: int
    thread_id: int
    name: str
    weight_grams: float | None
    price_cents: int | None
    category_id: int
    notes: str | None
    product_url: str | None
    image_filename: str | None
    image_source_url: str | None
    status: CandidateStatus
    pros: str | None
    cons: str | None
    sort_order: float
    created_at: datetime
    updated_at: datetime


@attrs.frozen
class ThreadDetail:
    """A thread with its candidates in their manual order."""

    thread: Thread
    candidates: tuple[Candidate, ...]


@attrs.frozen
class ThreadSummary:
    """A thread in a listing, with its number of candidates."""

    thread: Thread
    candidate_count: int


@attrs.frozen
class ThreadPage:
    """One page of the threads listing (newest first); ``next_cursor`` is ``None`` on
    the last page, ``total`` is ``None`` unless the listing was asked to count."""

    threads: tuple[ThreadSummary, ...]
    next_cursor: str | None
    total: int | None = None


@attrs.frozen
class Resolution:
    """What resolving a thread did: the thread, now resolved, and the item created."""

    thread: Thread
    item: Item


@attrs.frozen
class Setup:
    """A packing list."""

    id: int
    name: str
    created_at: datetime
    updated_at: datetime


@attrs.frozen
class CategoryTotals:
    """The totals of one category's entries within a setup."""

    category_id: int
    category_name: str
    base_grams: float
    worn_grams: float
    consumable_grams: float
    total_grams: float
    pack_grams: float
    cost_cents: int = attrs.field(converter=int)  # a numeric sum: exact
    unit_count: int
    unweighed_count: int


@attrs.frozen
class SetupTotals:
    """Weight and cost figures of a setup.

    Each entry contributes ``weight_grams x quantity`` (and ``price_cents x
    quantity``); an item without weight counts 0 and is counted in
    ``unweighed_count``. ``total = base + worn + consumable``; ``pack =
    total - worn``; ``unit_count`` is the number of units (sum of quantities).
    """

    base_grams: float
    worn_grams: float
    consumable_grams: float
    total_grams: float
    pack_grams: float
    cost_cents: int = attrs.field(converter=int)  # a numeric sum: exact
    unit_count: int
    unweighed_count: int
    by_category: tuple[CategoryTotals, ...] = ()


@attrs.frozen
class SetupSummary:
    """A setup in a listing, with its totals (without the per-category breakdown)."""

    setup: Setup
    totals: SetupTotals


@attrs.frozen
class SetupPage:
    """One page of the setups listing (by name); ``next_cursor`` is ``None`` on the
    last page, ``total`` is ``None`` unless the listing was asked to count."""

    setups: tuple[SetupSummary, ...]
    next_cursor: str | None
    total: int | None = None


@attrs.frozen
class SetupEntry:
    """An item of a setup: the item's data and its classification there."""

    item: Item
    classification: Classification


@attrs.frozen
class SetupDetail:
    """A setup with its entries (ordered by category name, then item name) and totals."""

    setup: Setup
    entries: tuple[SetupEntry, ...]
    totals: SetupTotals


# --- Accounts: users, sessions, API keys, OAuth ------------------------------
# No record holds a password hash or a token hash. The records returned when a
# secret is created (NewSession, NewApiKey, IssuedTokens) carry the raw secret
# that one time, left out of their repr so that logs do not catch it.


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen
class User:
    """An account (its argon2id password hash is never part of a record)."""

    id: int
    username: str
    created_at: datetime


@attrs.frozen
class Session:
    """A login session (its token is stored only as a SHA-256 hash)."""

    user_id: int
    expires_at: datetime
    created_at: datetime


@attrs.frozen
class NewSession:
    """A session just created, with its raw token.

    Carries a raw secret: ``token`` is returned this once and never stored
    (the database keeps its SHA-256 only); it is left out of ``repr``.
    """

    session: Session
    token: str = attrs.field(repr=False)


@attrs.frozen
class ApiKey:
    """An API key of a user; ``key_prefix`` (its first 8 characters) is for display.
    ``last_used_at`` is recorded at most once per interval (see
    ``api_keys.authenticate``); the key stops working at ``expires_at``."""

    id: int
    user_id: int
    name: str
    key_prefix: str
    last_used_at: datetime | None
    created_at: datetime
    expires_at: datetime


@attrs.frozen
class NewApiKey:
    """An API key just created, with the raw key.

    Carries a raw secret: ``key`` is returned this once and never stored (the
    database keeps its SHA-256 and its first 8 characters); it is left out of
    ``repr``.
    """

    api_key: ApiKey
    key: str = attrs.field(repr=False)


@attrs.frozen
class OAuthClient:
    """A registered OAuth client and the redirect URIs it may use (matched exactly)."""

    id: int
    client_id: str
    client_name: str | None
    redirect_uris: tuple[str, ...] = attrs.field(converter=_str_tuple)
    created_at: datetime


@attrs.frozen
class OAuthToken:
    """An issued access token and its refresh token (one row), without the secrets.

    ``family_id`` is the id of the first token of its refresh-rotation chain;
    ``family_expires_at`` the absolute end of that chain (no token of the family
    is valid, nor refreshable, past it).
    """

    id: int
    client_id: str
    user_id: int
    scope: str | None
    expires_at: datetime
    refresh_expires_at: datetime | None
    revoked: bool
    family_id: int
    created_at: datetime
    family_expires_at: datetime


@attrs.frozen
class IssuedTokens:
    """An access token and a refresh token just issued (``token_type`` Bearer).

    Carries raw secrets: ``access_token`` and ``refresh_token`` are returned
    this once and never stored (the database keeps their SHA-256 only); they
    are left out of ``repr``.
    """

    token: OAuthToken
    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)


@attrs.frozen
class AccessGrant:
    """What a valid access token grants: its user, and the token (client, scope, expiry)."""

    user: User
    token: OAuthToken
