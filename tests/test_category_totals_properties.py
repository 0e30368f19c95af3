"""``category_totals`` equals a recount after any sequence of writes (sync API).

Hypothesis draws sequences of item creates, updates (quantity, weight, price,
category), duplicates and deletes, category creates and deletes; after each
sequence (each example in a savepoint) the rows the triggers kept equal a
recount from the items, and ``categories.list()`` / ``items.totals()`` equal
the figures of the recount.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection

from gearbox_db import Database
from gearbox_db.records import CollectionTotals
from gearbox_db.testing import isolated
from tests.category_totals import Figures, maintained, recount

#: Weights users type (decimals, not dyadic), tiny and huge ones (inf in a double sum).
weights = (
    st.none()
    | st.sampled_from([0.0, 0.1, 12.3, 812.25, 5e-324, 1e-300, 1e308])
    | (st.floats(min_value=0, max_value=1e6, allow_nan=False))
)
prices = st.none() | st.integers(0, 2**31 - 1)
quantities = st.integers(1, 2**31 - 1) | st.integers(1, 4)
slots = st.integers(0, 50)  # picks an existing item or category by position

Step = tuple[str, Any]
steps = st.one_of(
    st.tuples(st.just("create"), st.tuples(slots, weights, prices, quantities)),
    st.tuples(st.just("weight"), st.tuples(slots, weights)),
    st.tuples(st.just("price"), st.tuples(slots, prices)),
    st.tuples(st.just("quantity"), st.tuples(slots, quantities)),
    st.tuples(st.just("move"), st.tuples(slots, slots)),
    st.tuples(st.just("rename"), slots),
    st.tuples(st.just("duplicate"), slots),
    st.tuples(st.just("delete"), slots),
    st.tuples(st.just("new_category"), st.just(None)),
    st.tuples(st.just("delete_category"), slots),
)


class Runner:
    """Applies steps through the repository, picking items and categories by position."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.categories = [db.categories.uncategorized().id]
        self.items: list[int] = []
        self.serial = 0

    def item(self, slot: int) -> int | None:
        return self.items[slot % len(self.items)] if self.items else None

    def category(self, slot: int) -> int:
        return self.categories[slot % len(self.categories)]

    def run(self, step: Step) -> None:
        kind, args = step
        self.serial += 1
        if kind == "create":
            slot, weight, price, quantity = args
            item = self.db.items.create(
                name=f"item {self.serial}",
                category_id=self.category(slot),
                weight_grams=weight,
                price_cents=price,
                quantity=quantity,
            )
            self.items.append(item.id)
        elif kind == "new_category":
            self.categories.append(self.db.categories.create(name=f"cat {self.serial}").id)
        elif kind == "delete_category":
            doomed = self.category(args)
            if doomed != self.categories[0]:  # Uncategorized cannot go
                self.db.categories.delete(doomed)
                self.categories.remove(doomed)
        else:
            self.on_item(kind, args)

    def on_item(self, kind: str, args: Any) -> None:
        slot, value = args if isinstance(args, tuple) else (args, None)
        item_id = self.item(slot)
        if item_id is None:
            return
        actions: dict[str, Callable[[], object]] = {
            "weight": lambda: self.db.items.update(item_id, weight_grams=value),
            "price": lambda: self.db.items.update(item_id, price_cents=value),
            "quantity": lambda: self.db.items.update(item_id, quantity=value),
            "move": lambda: self.db.items.update(item_id, category_id=self.category(value)),
            "rename": lambda: self.db.items.update(item_id, name=f"renamed {self.serial}"),
            "duplicate": lambda: self.items.append(self.db.items.duplicate(item_id).id),
            "delete": lambda: self.db.items.delete(item_id),
        }
        actions[kind]()
        if kind == "delete":
            self.items.remove(item_id)


def as_double(grams: Any) -> float:
    """What the reads return for an exact sum of grams: the nearest double, or inf."""
    try:
        return float(grams)  # a Fraction rounds correctly to a double...
    except OverflowError:  # ...and refuses beyond the largest one
        return math.inf


def expected_totals(counted: dict[int, Figures]) -> CollectionTotals:
    figures = list(counted.values())
    return CollectionTotals(
        unit_count=sum(f[1] for f in figures),
        total_weight_grams=as_double(sum(f[2] for f in figures)),
        total_cost_cents=int(sum(f[3] for f in figures)),
        unweighed_count=sum(f[4] for f in figures),
    )


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=st.lists(steps, max_size=25))
def test_maintained_totals_equal_a_recount(
    gearbox_connection: Connection, sequence: list[Step]
) -> None:
    with isolated(gearbox_connection) as connection:
        db = Database.from_connection(connection)
        runner = Runner(db)
        for step in sequence:
            runner.run(step)
        counted = recount(connection)
        assert maintained(connection) == counted
        assert db.items.totals() == expected_totals(counted)
        for summary in db.categories.list():
            item_count, _, grams, cents, _ = counted.get(summary.id, (0, 0, 0, 0, 0))
            assert (summary.item_count, summary.total_weight_grams, summary.total_cost_cents) == (
                item_count,
                as_double(grams),
                cents,
            )
