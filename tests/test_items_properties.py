"""Property tests of the items repository (sync API; hypothesis cannot drive async tests).

- hostile text: any Unicode text without NUL round-trips exactly through
  create, get, update, duplicate and list (names also through the name-sorted
  keyset cursors); a NUL anywhere is a ValidationError;
- a state machine driving items and categories against an in-memory model,
  checking every result, the listing (every sort, paged) and the totals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy import delete as delete_

from gearbox_db import (
    ConflictError,
    Database,
    InvalidReferenceError,
    NotFoundError,
    ValidationError,
)
from gearbox_db._queries.item_pages import records
from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.records import CollectionTotals, Item, ItemSort
from gearbox_db.schema import UNCATEGORIZED, categories, items
from gearbox_db.testing import isolated
from tests.stateful import completed_runs
from tests.strategies import hostile, hostile_name, per_example, with_nul

MISSING = 10**12
TEXT_FIELDS = ("notes", "product_url", "image_filename", "image_source_url")


def page_through(db: Database, **listing: Any) -> list[Item]:
    found: list[Item] = []
    cursor = None
    while True:
        page = db.items.list(cursor=cursor, **listing)
        found += page.items
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


@per_example
@given(name=hostile_name, other=hostile_name, texts=st.tuples(*[hostile] * len(TEXT_FIELDS)))
def test_hostile_text_round_trips(
    gearbox_connection: Connection, name: str, other: str, texts: tuple[str, ...]
) -> None:
    with isolated(gearbox_connection) as connection:
        db = Database.from_connection(connection)
        category = db.categories.create(name="Hostile")
        fields: dict[str, Any] = dict(zip(TEXT_FIELDS, texts, strict=True))
        item = db.items.create(name=name, category_id=category.id, **fields)
        assert (item.name, *(getattr(item, f) for f in TEXT_FIELDS)) == (name, *texts)
        assert db.items.get(item.id) == item
        assert item in db.items.list(category_id=category.id, search=name).items
        copy = db.items.duplicate(item.id)
        assert (copy.name, copy.notes, copy.image_source_url) == (name, texts[0], texts[3])
        renamed = db.items.update(copy.id, name=other, notes=name)
        assert (renamed.name, renamed.notes) == (other, name)
        for descending in (False, True):
            paged = page_through(db, category_id=category.id, limit=1, descending=descending)
            assert sorted(i.id for i in paged) == sorted([item.id, copy.id])


@per_example
@given(bad=with_nul, field=st.sampled_from(("name", *TEXT_FIELDS)))
def test_nul_is_a_validation_error(gearbox_connection: Connection, bad: str, field: str) -> None:
    with isolated(gearbox_connection) as connection:
        db = Database.from_connection(connection)
        category = db.categories.create(name="Nul")
        item = db.items.create(name="fine", category_id=category.id)
        arguments: dict[str, Any] = {"name": "x", field: bad}
        with pytest.raises(ValidationError, match=field):
            db.items.create(category_id=category.id, **arguments)
        change: dict[str, Any] = {field: bad}
        with pytest.raises(ValidationError, match=field):
            db.items.update(item.id, **change)
        with pytest.raises(ValidationError, match="search"):
            db.items.list(search=bad)
        assert db.items.get(item.id) == item


# --- the listing's record builder ---------------------------------------------------------

moments = st.datetimes(timezones=st.just(UTC))
#: A strategy for each type of an :class:`Item` field (annotations are strings).
_BY_TYPE: dict[str, st.SearchStrategy[Any]] = {
    "int": st.integers(1, 2**63 - 1),
    "int | None": st.none() | st.integers(0, 2**31 - 1),
    "float | None": st.none() | st.floats(min_value=0, allow_infinity=False),
    "str": hostile,
    "str | None": st.none() | hostile,
    "datetime": moments,
}
#: Rows of the listing, one value per field of Item, in field order (a new field
#: gets a value by its type; a field of a new type fails here, not silently).
item_rows = st.tuples(*(_BY_TYPE[str(field.type)] for field in attrs.fields(Item)))


def test_records_may_skip_item_init() -> None:
    """What :func:`item_pages.records` relies on: ``Item.__init__`` only stores its
    arguments, and Item has no ``__weakref__`` slot (records are retyped from a twin)."""
    for field in attrs.fields(Item):
        assert (field.default, field.converter, field.validator) == (attrs.NOTHING, None, None)
        assert field.on_setattr is None
    assert not hasattr(Item, "__attrs_post_init__")
    assert not hasattr(Item, "__attrs_pre_init__")
    assert "__weakref__" not in vars(Item)["__slots__"]


@settings(max_examples=50, deadline=None, database=None)
@given(rows=st.lists(item_rows, max_size=8))
def test_records_equal_what_item_init_builds(rows: list[tuple[Any, ...]]) -> None:
    built = records(rows)
    expected = tuple(Item(*row) for row in rows)
    assert built == expected
    assert [hash(i) for i in built] == [hash(i) for i in expected]
    assert [repr(i) for i in built] == [repr(i) for i in expected]
    assert [attrs.astuple(i) for i in built] == [attrs.astuple(i) for i in expected]
    for item in built:
        assert type(item) is Item
        assert attrs.evolve(item, name="other") == attrs.evolve(
            Item(*attrs.astuple(item)), name="other"
        )
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            item.name = "changed"  # type: ignore[misc]


# --- state machine --------------------------------------------------------------------------

# Names from lowercase letters only: every collation orders them alike, so the
# model can predict the name order; few letters make ties (ordered by id).
names = st.text("abc", min_size=1, max_size=3)
searches = st.text("abcAB", max_size=2)
weights = st.none() | st.integers(0, 4000).map(lambda n: n / 4)  # sums stay exact
prices = st.none() | st.integers(0, 10**6)
optional_texts = st.none() | st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), max_size=4
)
new_items = st.fixed_dictionaries(
    {
        "name": names,
        "weight_grams": weights,
        "price_cents": prices,
        "quantity": st.integers(1, 5),
        "notes": optional_texts,
    }
)
changes = st.fixed_dictionaries(
    {},
    optional={
        "name": names,
        "weight_grams": weights,
        "price_cents": prices,
        "quantity": st.integers(1, 5),
        "notes": optional_texts,
        "product_url": optional_texts,
    },
)


def expected_order(rows: list[Item], sort: ItemSort, descending: bool) -> list[Item]:
    """The order the repository promises: key, then id, NULL keys last either way."""
    key: Callable[[Item], Any] = {
        "name": lambda i: (i.name.lower(), i.name),
        "weight": lambda i: i.weight_grams,
        "price": lambda i: i.price_cents,
        "created": lambda i: i.created_at,
    }[sort]
    present = sorted(
        (i for i in rows if key(i) is not None),
        key=lambda i: (key(i), i.id),
        reverse=descending,
    )
    missing = sorted((i for i in rows if key(i) is None), key=lambda i: i.id, reverse=descending)
    return present + missing


class ItemsMachine(RuleBasedStateMachine):
    """Items and categories against a model (each operation commits on its own)."""

    engine: ClassVar[Engine]

    def __init__(self) -> None:
        super().__init__()
        self.db = Database.from_engine(self.engine)
        fallback = self.db.categories.get_by_name(UNCATEGORIZED)
        self.fallback = fallback.id
        self.categories: dict[int, tuple[str, str]] = {fallback.id: (fallback.name, fallback.icon)}
        self.items: dict[int, Item] = {}
        self.made = 0

    def teardown(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete_(items))
            connection.execute(delete_(categories).where(categories.c.name != UNCATEGORIZED))

    def _pick(self, ids: Iterable[int], index: int) -> int:
        ordered = sorted(ids)
        return ordered[index % len(ordered)]

    def _with_category(self, item: Item) -> Item:
        name, icon = self.categories[item.category_id]
        return attrs.evolve(item, category_name=name, category_icon=icon)

    @rule(icon=st.sampled_from(["tent", "bed"]))
    def add_category(self, icon: str) -> None:
        self.made += 1
        category = self.db.categories.create(name=f"Category {self.made}", icon=icon)
        self.categories[category.id] = (category.name, category.icon)
        with pytest.raises(ConflictError):
            self.db.categories.create(name=category.name)

    @precondition(lambda self: len(self.categories) > 1)
    @rule(index=st.integers(0, 99), name=names)
    def rename_category(self, index: int, name: str) -> None:
        category_id = self._pick(set(self.categories) - {self.fallback}, index)
        renamed = self.db.categories.update(category_id, name=f"{name} {category_id}")
        self.categories[category_id] = (renamed.name, renamed.icon)
        for item in self.items.values():
            if item.category_id == category_id:
                self.items[item.id] = self._with_category(item)

    @precondition(lambda self: len(self.categories) > 1)
    @rule(index=st.integers(0, 99))
    def delete_category(self, index: int) -> None:
        category_id = self._pick(set(self.categories) - {self.fallback}, index)
        self.db.categories.delete(category_id)
        del self.categories[category_id]
        for old in [i for i in self.items.values() if i.category_id == category_id]:
            moved = self.db.items.get(old.id)
            assert moved.updated_at > old.updated_at
            expected = self._with_category(attrs.evolve(old, category_id=self.fallback))
            assert moved == attrs.evolve(expected, updated_at=moved.updated_at)
            self.items[old.id] = moved

    @rule(index=st.integers(0, 99), batch=st.lists(new_items, min_size=1, max_size=5))
    def create_items(self, index: int, batch: list[dict[str, Any]]) -> None:
        category_id = self._pick(self.categories, index)
        for fields in batch:
            item = self.db.items.create(category_id=category_id, **fields)
            assert item.id not in self.items
            assert item.created_at == item.updated_at
            assert {name: getattr(item, name) for name in fields} == fields
            assert (item.product_url, item.image_filename, item.image_source_url) == (None,) * 3
            assert item == self._with_category(attrs.evolve(item, category_id=category_id))
            self.items[item.id] = item

    @rule(name=names)
    def create_in_unknown_category(self, name: str) -> None:
        with pytest.raises(InvalidReferenceError):
            self.db.items.create(name=name, category_id=MISSING)

    @precondition(lambda self: bool(self.items))
    @rule(index=st.integers(0, 99), fields=changes, category=st.none() | st.integers(0, 99))
    def update_item(self, index: int, fields: dict[str, Any], category: int | None) -> None:
        old = self.items[self._pick(self.items, index)]
        fields = dict(fields)
        if category is not None:
            fields["category_id"] = self._pick(self.categories, category)
        if not fields:
            with pytest.raises(ValidationError):
                self.db.items.update(old.id)
            return
        new = self.db.items.update(old.id, **fields)
        assert new.updated_at > old.updated_at
        assert new == self._with_category(attrs.evolve(old, updated_at=new.updated_at, **fields))
        self.items[new.id] = new

    @precondition(lambda self: bool(self.items))
    @rule(index=st.integers(0, 99))
    def duplicate_item(self, index: int) -> None:
        old = self.items[self._pick(self.items, index)]
        copy = self.db.items.duplicate(old.id)
        assert copy.id not in self.items
        assert copy.created_at == copy.updated_at
        assert copy == attrs.evolve(
            old, id=copy.id, created_at=copy.created_at, updated_at=copy.updated_at
        )
        self.items[copy.id] = copy

    @precondition(lambda self: bool(self.items))
    @rule(index=st.integers(0, 99))
    def delete_item(self, index: int) -> None:
        item_id = self._pick(self.items, index)
        self.db.items.delete(item_id)
        del self.items[item_id]
        with pytest.raises(NotFoundError):
            self.db.items.get(item_id)
        with pytest.raises(NotFoundError):
            self.db.items.delete(item_id)

    @rule(
        sort=st.sampled_from(["name", "weight", "price", "created"]),
        descending=st.booleans(),
        limit=st.integers(1, 4),
        search=st.none() | searches,
        category=st.none() | st.integers(0, 99),
        counted=st.booleans(),
    )
    def list_pages(
        self,
        sort: ItemSort,
        descending: bool,
        limit: int,
        search: str | None,
        category: int | None,
        counted: bool,
    ) -> None:
        category_id = None if category is None else self._pick(self.categories, category)
        rows = [
            i
            for i in self.items.values()
            if (category_id is None or i.category_id == category_id)
            and (search is None or search.lower() in i.name.lower())
        ]
        listing: dict[str, Any] = {
            "sort": sort, "descending": descending, "search": search, "category_id": category_id
        }  # fmt: skip
        first = self.db.items.list(limit=limit, include_total=True, **listing)
        assert first.total == len(rows)
        expected = expected_order(rows, sort, descending)
        assert list(first.items) == expected[:limit]
        assert page_through(self.db, limit=limit, include_total=counted, **listing) == expected

    @invariant()
    def everything_matches_the_model(self) -> None:
        listed = self.db.items.list(limit=1000, sort="created")
        assert list(listed.items) == expected_order(list(self.items.values()), "created", False)
        assert listed.total is None
        assert self.db.items.totals() == CollectionTotals(
            unit_count=sum(i.quantity for i in self.items.values()),
            total_weight_grams=sum(
                (i.weight_grams or 0.0) * i.quantity for i in self.items.values()
            ),
            total_cost_cents=sum((i.price_cents or 0) * i.quantity for i in self.items.values()),
            unweighed_count=sum(i.weight_grams is None for i in self.items.values()),
        )


@pytest.fixture
def machine_engine(gearbox_database_url: str) -> Iterator[Engine]:
    engine = create_engine(to_sqlalchemy_url(gearbox_database_url), pool_size=1)
    try:
        yield engine
    finally:
        engine.dispose()


def test_items_state_machine(machine_engine: Engine) -> None:
    ItemsMachine.engine = machine_engine
    run = settings(max_examples=12, stateful_step_count=25, deadline=None, database=None)
    assert completed_runs(ItemsMachine, run) > 0
