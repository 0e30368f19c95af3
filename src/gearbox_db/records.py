"""What the repositories return: frozen attrs records.

Records are plain immutable values: they hold no connection and load
nothing lazily. Weights are grams (``float``), prices are cents (``int``),
timestamps are timezone-aware ``datetime`` objects in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import attrs

__all__ = [
    "Candidate",
    "CandidateStatus",
    "Category",
    "CategorySummary",
    "CategoryTotals",
    "Classification",
    "CollectionTotals",
    "Item",
    "ItemPage",
    "ItemSort",
    "Resolution",
    "Setup",
    "SetupDetail",
    "SetupEntry",
    "SetupSummary",
    "SetupTotals",
    "Thread",
    "ThreadDetail",
    "ThreadStatus",
    "ThreadSummary",
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
    """A category with the figures of its items (weight and cost count every unit)."""

    id: int
    name: str
    icon: str
    created_at: datetime
    item_count: int
    total_weight_grams: float
    total_cost_cents: int


@attrs.frozen
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
    """Figures of the whole collection (every unit of every item)."""

    item_count: int
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
    cost_cents: int
    item_count: int
    unweighed_count: int


@attrs.frozen
class SetupTotals:
    """Weight and cost figures of a setup.

    Each entry contributes ``weight_grams x quantity`` (and ``price_cents x
    quantity``); an item without weight counts 0 and is counted in
    ``unweighed_count``. ``total = base + worn + consumable``; ``pack =
    total - worn``; ``item_count`` is the number of units.
    """

    base_grams: float
    worn_grams: float
    consumable_grams: float
    total_grams: float
    pack_grams: float
    cost_cents: int
    item_count: int
    unweighed_count: int
    by_category: tuple[CategoryTotals, ...] = ()


@attrs.frozen
class SetupSummary:
    """A setup in a listing, with its totals (without the per-category breakdown)."""

    setup: Setup
    totals: SetupTotals


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
