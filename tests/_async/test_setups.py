"""Setups repository: the same tests run against the async and the sync API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from gearbox_db import (
    AsyncDatabase,
    ConflictError,
    InvalidReferenceError,
    NotFoundError,
    ValidationError,
)
from gearbox_db.records import (
    CategoryTotals,
    Classification,
    Item,
    SetupTotals,
)

ZERO = SetupTotals(0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0)
MISSING = 10**12


async def _category(db: AsyncDatabase, name: str) -> int:
    return (await db.categories.create(name=name)).id


async def _item(db: AsyncDatabase, name: str, category_id: int, **fields: Any) -> Item:
    return await db.items.create(name=name, category_id=category_id, **fields)


async def _items(db: AsyncDatabase, count: int, category: str = "Gear") -> list[int]:
    category_id = await _category(db, category)
    return [
        (await _item(db, f"Item {n}", category_id, weight_grams=10.0 * n)).id for n in range(count)
    ]


async def _entries(db: AsyncDatabase, setup_id: int) -> dict[int, Classification]:
    return {e.item.id: e.classification for e in (await db.setups.get(setup_id)).entries}


async def test_create_get_rename(db: AsyncDatabase) -> None:
    setup = await db.setups.create(name="PCT 2026")
    assert setup.name == "PCT 2026"
    detail = await db.setups.get(setup.id)
    assert (detail.setup, detail.entries, detail.totals) == (setup, (), ZERO)
    assert await db.setups.totals(setup.id) == ZERO
    renamed = await db.setups.rename(setup.id, name="PCT 2027")
    assert renamed == attrs.evolve(setup, name="PCT 2027", updated_at=renamed.updated_at)
    assert renamed.updated_at > setup.updated_at
    assert (await db.setups.get(setup.id)).setup == renamed
    assert (await db.setups.create(name="PCT 2027")).id != setup.id  # names need not be unique


async def test_list_by_name_with_totals_of_each_setup(db: AsyncDatabase) -> None:
    items = await _items(db, 3)  # 0 g, 10 g, 20 g
    zulu = await db.setups.create(name="Zulu")
    alpha = await db.setups.create(name="Alpha")
    empty = await db.setups.create(name="Middle")
    await db.setups.replace_items(zulu.id, {items[1]: "worn", items[2]: "base"})
    await db.setups.replace_items(alpha.id, {items[2]: "consumable"})
    listed = [
        s
        for s in (await db.setups.list(limit=1000)).setups
        if s.setup.id in (zulu.id, alpha.id, empty.id)
    ]
    assert [s.setup.name for s in listed] == ["Alpha", "Middle", "Zulu"]
    assert listed[1].totals == ZERO
    for summary in listed:
        full = await db.setups.totals(summary.setup.id)
        assert summary.totals == attrs.evolve(full, by_category=())
        assert summary.setup == (await db.setups.get(summary.setup.id)).setup
    assert listed[2].totals.worn_grams == 10.0
    assert listed[2].totals.pack_grams == 20.0


async def test_delete_takes_the_entries_not_the_items(db: AsyncDatabase) -> None:
    [item] = await _items(db, 1)
    setup = await db.setups.create(name="Doomed")
    await db.setups.add_item(setup.id, item)
    await db.setups.delete(setup.id)
    with pytest.raises(NotFoundError):
        await db.setups.get(setup.id)
    assert setup.id not in {s.setup.id for s in (await db.setups.list(limit=1000)).setups}
    assert (await db.items.get(item)).id == item


async def test_missing_setup_is_not_found(db: AsyncDatabase) -> None:
    [item] = await _items(db, 1)
    calls: list[Callable[[], Any]] = [
        lambda: db.setups.get(MISSING),
        lambda: db.setups.totals(MISSING),
        lambda: db.setups.rename(MISSING, name="x"),
        lambda: db.setups.delete(MISSING),
        lambda: db.setups.add_item(MISSING, item),
        lambda: db.setups.remove_item(MISSING, item),
        lambda: db.setups.set_classification(MISSING, item, classification="worn"),
        lambda: db.setups.replace_items(MISSING, {item: "base"}),
    ]
    for call in calls:
        with pytest.raises(NotFoundError, match="setup"):
            await call()


@pytest.mark.parametrize("name", ["", "   ", "\t\n", "a\x00b"])
async def test_bad_names_are_validation_errors(db: AsyncDatabase, name: str) -> None:
    setup = await db.setups.create(name="Fine")
    with pytest.raises(ValidationError):
        await db.setups.create(name=name)
    with pytest.raises(ValidationError):
        await db.setups.rename(setup.id, name=name)
    assert (await db.setups.get(setup.id)).setup.name == "Fine"


HOSTILE = ["Ω≈ç√ 🏕️ テント", "'; DROP TABLE setups; --", "  padded  ", "a\r\n\u2028\u202e\ufeff"]


@pytest.mark.parametrize("name", [*HOSTILE, "%s %(name)s {0} \\ $1", "x" * 10_000])
async def test_hostile_names_round_trip(db: AsyncDatabase, name: str) -> None:
    setup = await db.setups.create(name=name)
    assert setup.name == name
    assert (await db.setups.get(setup.id)).setup.name == name
    assert name in {s.setup.name for s in (await db.setups.list(limit=1000)).setups}
    assert (await db.setups.rename(setup.id, name=name + "!")).name == name + "!"


@pytest.mark.parametrize("bad_id", [0, -1, 2**63, "1", 1.0, True, None])
async def test_bad_ids_are_validation_errors(db: AsyncDatabase, bad_id: Any) -> None:
    setup = await db.setups.create(name="Ids")
    [item] = await _items(db, 1)
    with pytest.raises(ValidationError):
        await db.setups.get(bad_id)
    with pytest.raises(ValidationError):
        await db.setups.add_item(setup.id, bad_id)
    with pytest.raises(ValidationError):
        await db.setups.add_item(bad_id, item)
    with pytest.raises(ValidationError):
        await db.setups.replace_items(setup.id, [(bad_id, "base")])


async def test_add_item_returns_the_entry_with_the_item_data(db: AsyncDatabase) -> None:
    category = await _category(db, "Sleep")
    quilt = await _item(db, "Quilt", category, weight_grams=567.5, price_cents=32000, notes="20F")
    setup = await db.setups.create(name="Shoulder season")
    entry = await db.setups.add_item(setup.id, quilt.id)
    assert entry.classification == "base"
    assert entry.item == quilt
    assert (entry.item.category_name, entry.item.category_icon) == ("Sleep", "package")
    hat = await _item(db, "Hat", category)
    assert (
        await db.setups.add_item(setup.id, hat.id, classification="worn")
    ).classification == "worn"
    assert [e.item.name for e in (await db.setups.get(setup.id)).entries] == ["Hat", "Quilt"]


async def test_add_item_errors(db: AsyncDatabase) -> None:
    [item] = await _items(db, 1)
    setup = await db.setups.create(name="Errors")
    await db.setups.add_item(setup.id, item)
    with pytest.raises(ConflictError) as duplicate:
        await db.setups.add_item(setup.id, item, classification="worn")
    assert duplicate.value.constraint == "uq_setup_items_setup_id_item_id"
    assert duplicate.value.__cause__ is not None
    with pytest.raises(InvalidReferenceError) as unknown:
        await db.setups.add_item(setup.id, MISSING)
    assert unknown.value.constraint == "fk_setup_items_item_id_items"
    assert unknown.value.__cause__ is not None
    with pytest.raises(ValidationError):
        await db.setups.add_item(setup.id, item, classification="carried")  # type: ignore[arg-type]
    assert await _entries(db, setup.id) == {item: "base"}


async def test_entries_are_ordered_by_category_name_then_item_name(db: AsyncDatabase) -> None:
    water, camp = await _category(db, "Water"), await _category(db, "Camp")
    names = [("Filter", water), ("Bottle", water), ("Tent", camp), ("Chair", camp)]
    ids = [(await _item(db, name, category)).id for name, category in names]
    setup = await db.setups.create(name="Ordered")
    await db.setups.replace_items(setup.id, [(i, "base") for i in ids])
    entries = (await db.setups.get(setup.id)).entries
    assert [e.item.name for e in entries] == ["Chair", "Tent", "Bottle", "Filter"]


async def test_remove_item(db: AsyncDatabase) -> None:
    first, second = await _items(db, 2)
    setup = await db.setups.create(name="Remove")
    await db.setups.replace_items(setup.id, {first: "base", second: "worn"})
    await db.setups.remove_item(setup.id, first)
    assert await _entries(db, setup.id) == {second: "worn"}
    assert (await db.items.get(first)).id == first
    with pytest.raises(NotFoundError, match="entry"):
        await db.setups.remove_item(setup.id, first)
    with pytest.raises(NotFoundError, match="entry"):
        await db.setups.remove_item(setup.id, MISSING)


async def test_set_classification(db: AsyncDatabase) -> None:
    first, second = await _items(db, 2)
    setup = await db.setups.create(name="Reclassify")
    await db.setups.add_item(setup.id, first)
    entry = await db.setups.set_classification(setup.id, first, classification="consumable")
    assert (entry.item.id, entry.classification) == (first, "consumable")
    assert await _entries(db, setup.id) == {first: "consumable"}
    with pytest.raises(NotFoundError, match="entry"):
        await db.setups.set_classification(setup.id, second, classification="worn")
    with pytest.raises(ValidationError):
        await db.setups.set_classification(setup.id, first, classification="Worn")  # type: ignore[arg-type]
    assert await _entries(db, setup.id) == {first: "consumable"}


async def test_entry_fields_are_checked_as_keyword_arguments(db: AsyncDatabase) -> None:
    [item] = await _items(db, 1)
    setup = await db.setups.create(name="Keywords")
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        await db.setups.add_item(setup.id, item, colour="red")  # type: ignore[call-arg]
    await db.setups.add_item(setup.id, item)
    with pytest.raises(TypeError, match="missing required keyword argument 'classification'"):
        await db.setups.set_classification(setup.id, item)  # type: ignore[call-arg]
    assert await _entries(db, setup.id) == {item: "base"}


async def test_entry_changes_move_updated_at(db: AsyncDatabase) -> None:
    [item] = await _items(db, 1)
    setup = await db.setups.create(name="Touched")
    seen = [setup.updated_at]

    async def moved() -> None:
        seen.append((await db.setups.get(setup.id)).setup.updated_at)
        assert seen[-1] > seen[-2]

    await db.setups.add_item(setup.id, item)
    await moved()
    await db.setups.set_classification(setup.id, item, classification="worn")
    await moved()
    await db.setups.remove_item(setup.id, item)
    await moved()
    await db.setups.replace_items(setup.id, [(item, "base")])
    await moved()


async def test_a_refused_removal_leaves_updated_at_alone(db: AsyncDatabase) -> None:
    """Inside a transaction a NotFoundError does not roll back: the setup must be untouched."""
    [item] = await _items(db, 1)
    setup = await db.setups.create(name="Untouched")
    async with db.transaction() as tx:
        with pytest.raises(NotFoundError):
            await tx.setups.remove_item(setup.id, item)
        with pytest.raises(NotFoundError):
            await tx.setups.set_classification(setup.id, item, classification="worn")
        assert (await tx.setups.get(setup.id)).setup == setup


async def test_deleting_an_item_takes_it_out_of_setups(db: AsyncDatabase) -> None:
    first, second = await _items(db, 2)
    setup = await db.setups.create(name="Cascade")
    await db.setups.replace_items(setup.id, {first: "base", second: "base"})
    await db.items.delete(second)
    assert await _entries(db, setup.id) == {first: "base"}
    assert (await db.setups.totals(setup.id)).unit_count == 1


async def test_replace_items_takes_a_mapping_or_pairs(db: AsyncDatabase) -> None:
    a, b, c = await _items(db, 3)
    setup = await db.setups.create(name="Replace")
    detail = await db.setups.replace_items(setup.id, {a: "base", b: "worn"})
    assert {e.item.id: e.classification for e in detail.entries} == {a: "base", b: "worn"}
    assert detail.setup.updated_at > setup.updated_at
    detail = await db.setups.replace_items(setup.id, [(c, "consumable"), (b, "base")])
    assert {e.item.id: e.classification for e in detail.entries} == {b: "base", c: "consumable"}
    assert detail == await db.setups.get(setup.id)
    empty = await db.setups.replace_items(setup.id, [])
    assert (empty.entries, empty.totals) == ((), ZERO)


async def test_replace_items_refuses_duplicates_before_any_io(db: AsyncDatabase) -> None:
    a, b = await _items(db, 2)
    setup = await db.setups.create(name="Dupes")
    await db.setups.replace_items(setup.id, {a: "worn"})
    with pytest.raises(ValidationError, match=str(b)):
        await db.setups.replace_items(setup.id, [(b, "base"), (a, "base"), (b, "worn")])
    # Validated before the setup is even looked for.
    with pytest.raises(ValidationError):
        await db.setups.replace_items(MISSING, [(b, "base"), (b, "base")])
    with pytest.raises(ValidationError):
        await db.setups.replace_items(setup.id, [(a, "heavy")])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        await db.setups.replace_items(setup.id, [a])  # type: ignore[list-item]
    assert await _entries(db, setup.id) == {a: "worn"}


async def test_replace_items_with_an_unknown_item_changes_nothing(db: AsyncDatabase) -> None:
    a, b = await _items(db, 2)
    setup = await db.setups.create(name="Atomic")
    before = await db.setups.replace_items(setup.id, {a: "worn"})
    with pytest.raises(InvalidReferenceError) as info:
        await db.setups.replace_items(setup.id, [(b, "base"), (MISSING, "base")])
    assert info.value.constraint == "fk_setup_items_item_id_items"
    assert info.value.__cause__ is not None
    assert await db.setups.get(setup.id) == before


async def test_totals_follow_the_rules(db: AsyncDatabase) -> None:
    """Every unit counts (worn ones too); an unweighed item counts 0 and is counted;
    the breakdown is per category, by category name."""
    shelter, clothing, kitchen = [
        await _category(db, n) for n in ("Shelter", "Clothing", "Kitchen")
    ]
    gear = [
        ("Tent", shelter, 1200.5, 30000, 1, "base"),
        ("Stakes", shelter, 10.0, 100, 8, "base"),
        ("Jacket", clothing, 350.0, 15000, 1, "worn"),
        ("Socks", clothing, 60.0, None, 2, "worn"),
        ("Fuel", kitchen, 100.0, 300, 3, "consumable"),
        ("Spork", kitchen, None, None, 2, "base"),
    ]
    setup = await db.setups.create(name="Thru-hike")
    for name, category, grams, cents, quantity, classification in gear:
        item = await _item(
            db, name, category, weight_grams=grams, price_cents=cents, quantity=quantity
        )
        await db.setups.add_item(setup.id, item.id, classification=classification)  # type: ignore[arg-type]
    # base, worn, consumable, total, pack (g); cost (cents); units; unweighed entries
    expected = SetupTotals(
        *(1280.5, 470.0, 300.0, 2050.5, 1580.5, 46700, 17, 1),
        by_category=(
            CategoryTotals(clothing, "Clothing", 0.0, 470.0, 0.0, 470.0, 0.0, 15000, 3, 0),
            CategoryTotals(kitchen, "Kitchen", 0.0, 0.0, 300.0, 300.0, 300.0, 900, 5, 1),
            CategoryTotals(shelter, "Shelter", 1280.5, 0.0, 0.0, 1280.5, 1280.5, 30800, 9, 0),
        ),
    )
    assert await db.setups.totals(setup.id) == expected
    assert (await db.setups.get(setup.id)).totals == expected
    [summary] = [s for s in (await db.setups.list(limit=1000)).setups if s.setup.id == setup.id]
    assert summary.totals == attrs.evolve(expected, by_category=())


async def test_totals_follow_item_changes(db: AsyncDatabase) -> None:
    category = await _category(db, "Bags")
    bag = await _item(db, "Dry bag", category)
    setup = await db.setups.create(name="Live")
    await db.setups.add_item(setup.id, bag.id, classification="consumable")
    assert (await db.setups.totals(setup.id)).unweighed_count == 1
    await db.items.update(bag.id, weight_grams=42.25, quantity=4, price_cents=999)
    totals = await db.setups.totals(setup.id)
    assert (totals.consumable_grams, totals.cost_cents, totals.unit_count) == (169.0, 3996, 4)
    assert (totals.unweighed_count, totals.pack_grams) == (0, 169.0)


async def test_cost_does_not_overflow_32_bits(db: AsyncDatabase) -> None:
    category = await _category(db, "Luxury")
    setup = await db.setups.create(name="Expensive")
    for n in range(3):
        item = await _item(db, f"Gold {n}", category, price_cents=2_000_000_000, quantity=5)
        await db.setups.add_item(setup.id, item.id)
    totals = await db.setups.totals(setup.id)
    assert (totals.cost_cents, totals.unit_count) == (30_000_000_000, 15)
    [summary] = [s for s in (await db.setups.list(limit=1000)).setups if s.setup.id == setup.id]
    assert summary.totals.cost_cents == 30_000_000_000
    assert (await db.setups.get(setup.id)).totals.cost_cents == 30_000_000_000
