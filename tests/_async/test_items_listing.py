"""Listing items (filters, sorts, keyset pages, cursors): async and sync API."""

from __future__ import annotations

import base64
import json
from typing import Any

import attrs
import pytest

from gearbox_db import AsyncDatabase, ValidationError
from gearbox_db.records import Category, Item, ItemSort

from ._connect import connect


async def all_pages(db: AsyncDatabase, **listing: Any) -> list[Item]:
    """Every item of a listing, following the cursors page by page."""
    found: list[Item] = []
    cursor = None
    while True:
        page = await db.items.list(cursor=cursor, **listing)
        found += page.items
        if page.next_cursor is None:
            return found
        assert len(page.items) == listing.get("limit", 50)
        cursor = page.next_cursor


# --- list -----------------------------------------------------------------------------------


async def test_list_filters_by_category_and_by_text_ignoring_case(
    db: AsyncDatabase, cook: Category, sleep: Category
) -> None:
    pot = await db.items.create(name="Titanium POT", category_id=cook.id)
    mug = await db.items.create(name="pot-bellied mug", category_id=cook.id)
    await db.items.create(name="Pillow", category_id=sleep.id)
    await db.items.create(name="100% wool_sock\\", category_id=sleep.id)
    assert (await db.items.list(category_id=cook.id)).items == (mug, pot)
    assert [i.name for i in (await db.items.list(search="pOt")).items] == [mug.name, pot.name]
    assert (await db.items.list(search="pot", category_id=sleep.id)).items == ()
    for literal in ("%", "_", "\\", "0% w"):
        assert [i.name for i in (await db.items.list(search=literal)).items] == ["100% wool_sock\\"]
    assert len((await db.items.list(search="")).items) == 4


async def test_names_sort_ignoring_case(db: AsyncDatabase, cook: Category) -> None:
    for name in ("cherry", "Banana", "apple", "APPLE PIE"):
        await db.items.create(name=name, category_id=cook.id)
    names = [i.name for i in (await db.items.list()).items]
    assert names == ["apple", "APPLE PIE", "Banana", "cherry"]
    descending = [i.name for i in (await db.items.list(descending=True)).items]
    assert descending == names[::-1]


async def test_list_sorts_with_missing_values_last_and_ties_by_id(
    db: AsyncDatabase, cook: Category
) -> None:
    made = [
        await db.items.create(name=name, category_id=cook.id, weight_grams=w, price_cents=p)
        for name, w, p in [("b", 5.0, None), ("a", None, 10), ("c", 5.0, 3), ("a", 1.0, None)]
    ]
    b, a1, c, a2 = (i.id for i in made)
    expected: dict[tuple[ItemSort, bool], list[int]] = {
        ("name", False): [a1, a2, b, c],
        ("name", True): [c, b, a2, a1],
        ("weight", False): [a2, b, c, a1],
        ("weight", True): [c, b, a2, a1],
        ("price", False): [c, a1, b, a2],
        ("price", True): [a1, c, a2, b],
        ("created", False): [b, a1, c, a2],  # one transaction: same created_at, so by id
        ("created", True): [a2, c, a1, b],
    }
    for (sort, descending), ids in expected.items():
        page = await db.items.list(sort=sort, descending=descending)
        assert [i.id for i in page.items] == ids, (sort, descending)
        paged = await all_pages(db, sort=sort, descending=descending, limit=1)
        assert [i.id for i in paged] == ids, (sort, descending)


async def test_pages_follow_each_other(db: AsyncDatabase, cook: Category) -> None:
    for n in range(7):
        await db.items.create(name=f"item {n % 3}", category_id=cook.id, weight_grams=n % 2 or None)
    for sort in ("name", "weight", "price", "created"):
        full = (await db.items.list(sort=sort, limit=100)).items
        for limit in (1, 2, 3, 7):
            assert tuple(await all_pages(db, sort=sort, limit=limit)) == full
    last = await db.items.list(limit=7)
    assert (len(last.items), last.next_cursor) == (7, None)


async def test_total_is_counted_only_when_asked(
    db: AsyncDatabase, cook: Category, sleep: Category
) -> None:
    for n in range(5):
        await db.items.create(name=f"pot {n}", category_id=cook.id)
    await db.items.create(name="pillow", category_id=sleep.id)
    assert (await db.items.list()).total is None
    first = await db.items.list(limit=2, include_total=True, search="POT")
    assert (len(first.items), first.total) == (2, 5)
    rest = await db.items.list(limit=10, include_total=True, search="POT", cursor=first.next_cursor)
    assert (len(rest.items), rest.total, rest.next_cursor) == (3, 5, None)
    empty = await db.items.list(include_total=True, search="nothing like it")
    assert (empty.items, empty.total) == ((), 0)
    assert (await db.items.list(include_total=True, category_id=sleep.id)).total == 1


async def test_a_cursor_only_fits_its_own_listing(db: AsyncDatabase, cook: Category) -> None:
    for n in range(3):
        await db.items.create(name=f"pot {n}", category_id=cook.id)
    cursor = (await db.items.list(limit=1, search="pot")).next_cursor
    assert cursor is not None
    assert len((await db.items.list(limit=5, search="pot", cursor=cursor)).items) == 2
    others: list[dict[str, Any]] = [
        {"search": "pot", "sort": "weight"},
        {"search": "pot", "descending": True},
        {"search": "Pot"},
        {"search": "pot", "category_id": cook.id},
        {},
    ]
    for other in others:
        with pytest.raises(ValidationError, match="cursor"):
            await db.items.list(cursor=cursor, **other)


def _forged(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage!",
        "bm90IGpzb24",
        "_w",  # base64 of a byte that is not UTF-8
        _forged([1, 2]),
        _forged({"v": 1}),
        _forged({"v": 2, "f": "x", "k": "a", "i": 1}),
        "é",
        base64.urlsafe_b64encode(b"[" * 100_000).decode(),  # JSON nested too deep
    ],
)
async def test_damaged_cursors_are_validation_errors(db: AsyncDatabase, cursor: str) -> None:
    with pytest.raises(ValidationError, match="cursor"):
        await db.items.list(cursor=cursor)


async def test_forged_cursor_values_are_checked(db: AsyncDatabase, cook: Category) -> None:
    await db.items.create(name="a", category_id=cook.id, weight_grams=1.0)
    await db.items.create(name="b", category_id=cook.id, weight_grams=2.0)
    for sort in ("name", "weight", "price", "created"):
        cursor = (await db.items.list(limit=1, sort=sort)).next_cursor
        assert cursor is not None
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        assert len((await db.items.list(sort=sort, cursor=_forged(payload))).items) == 1
        bad_keys: list[object] = [[1], {}, "\x00" if sort == "name" else -1]
        if sort == "created":
            bad_keys += ["2024-01-01T00:00:00", "yesterday", None]
        for key, bad in [*(("k", value) for value in bad_keys), ("i", 0), ("i", True)]:
            with pytest.raises(ValidationError, match="cursor"):
                await db.items.list(sort=sort, cursor=_forged({**payload, key: bad}))


@pytest.mark.parametrize(
    "arguments",
    [
        {"sort": "colour"},
        {"limit": 0},
        {"limit": "10"},
        {"descending": "yes"},
        {"include_total": 1},
        {"category_id": -1},
        {"search": "a\x00"},
        {"cursor": 12},
    ],
)
async def test_list_validates_its_arguments(db: AsyncDatabase, arguments: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        await db.items.list(**arguments)


async def test_created_sort_follows_creation_time(gearbox_database_url: str) -> None:
    async with connect(gearbox_database_url) as db:
        category = await db.categories.create(name="Timeline")
        first = await db.items.create(name="z first", category_id=category.id)
        copy = await db.items.duplicate(first.id)  # its own transaction: a later timestamp
        assert copy.created_at > first.created_at
        assert copy.updated_at == copy.created_at
        listed = await db.items.list(sort="created", descending=True)
        assert [i.id for i in listed.items] == [copy.id, first.id]


async def test_listed_items_equal_the_items_got_one_by_one(db: AsyncDatabase) -> None:
    """The listing reads the driver's plain tuples (no SQLAlchemy row processing):
    its records must be exactly those of ``get``, which goes through SQLAlchemy's rows."""
    category = await db.categories.create(name="Listing twins")
    await db.items.create(name="Bare", category_id=category.id)
    await db.items.create(
        name="Full",
        category_id=category.id,
        weight_grams=0.1 + 0.2,
        price_cents=2**31 - 1,
        quantity=3,
        notes="n\\o\ttes",
        product_url="https://example.invalid/p?q=1",
        image_filename="full.jpg",
        image_source_url="https://example.invalid/full.jpg",
    )
    page = await db.items.list(category_id=category.id)
    assert [item.name for item in page.items] == ["Bare", "Full"]
    for item in page.items:
        got = await db.items.get(item.id)
        assert item == got
        assert [type(v) for v in attrs.astuple(item)] == [type(v) for v in attrs.astuple(got)]
