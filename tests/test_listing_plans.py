"""Every listing page is one range of one index: the plans, with sorting and scans forbidden.

With ``enable_sort``, ``enable_seqscan`` and ``enable_bitmapscan`` off the planner
still sorts (or scans) if no index gives the query's order: a plan without a
Sort node, reading one ``ix_*_by_*`` index, proves that the index and the query
agree on the order (missing weights and prices last in either direction, names
ignoring case first). A later page must bound that index scan (an Index Cond on
the cursor), not filter a scan from the start.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from sqlalchemy import Connection, Select, text

from gearbox_db._queries import item_pages, summary_pages
from gearbox_db.records import ItemSort
from gearbox_db.testing import isolated


@pytest.fixture
def planner(gearbox_connection: Connection) -> Iterator[Connection]:
    with isolated(gearbox_connection) as conn:
        for setting in ("enable_sort", "enable_seqscan", "enable_bitmapscan"):
            conn.execute(text(f"SET LOCAL {setting} = off"))
        yield conn


@pytest.fixture
def stocked_planner(gearbox_connection: Connection) -> Iterator[Connection]:
    """Scans forbidden, not sorts (a weight or price page sorts at most twice its size),
    and 20,000 analysed items (a tenth without weight or price), rolled back: an empty
    table's plans say nothing of a page's cost."""
    with isolated(gearbox_connection) as conn:
        conn.execute(
            text(
                "INSERT INTO items (name, category_id, weight_grams, price_cents) "
                "SELECT 'item ' || n, (SELECT min(id) FROM categories), "
                "CASE WHEN n % 10 <> 0 THEN n % 997 END, CASE WHEN n % 10 <> 0 THEN n % 991 END "
                "FROM generate_series(1, 20000) AS n"
            )
        )
        conn.execute(text("ANALYZE items"))
        for setting in ("enable_seqscan", "enable_bitmapscan"):
            conn.execute(text(f"SET LOCAL {setting} = off"))
        yield conn


def plan(conn: Connection, statement: Select[Any]) -> dict[str, Any]:
    compiled = statement.compile(dialect=conn.dialect)
    sql = f"EXPLAIN (FORMAT JSON) {compiled}"
    result: dict[str, Any] = conn.exec_driver_sql(sql, compiled.params).scalar_one()[0]["Plan"]
    return result


def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


def index_scans(node: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [n for n in nodes(node) if n.get("Index Name", "").startswith(prefix)]


def assert_served_by_index(tree: dict[str, Any], prefix: str, bounded: bool) -> None:
    kinds = [n["Node Type"] for n in nodes(tree)]
    assert not {"Sort", "Incremental Sort"} & set(kinds), kinds
    assert not any(
        n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "items" for n in nodes(tree)
    ), kinds
    (scan,) = index_scans(tree, prefix)
    if bounded:  # the cursor bounds the scan: a row comparison in the index condition
        assert "ROW(" in scan.get("Index Cond", ""), scan


def limited_scans(node: dict[str, Any], index: str, parent: str = "") -> list[str]:
    """The parents' node types of the scans of ``index`` under ``node``."""
    found = [parent] if node.get("Index Name") == index else []
    for child in node.get("Plans", []):
        found += limited_scans(child, index, node["Node Type"])
    return found


def assert_ranges(tree: dict[str, Any], index: str, ranges: int) -> None:
    """``ranges`` scans of ``index``, each cut by a Limit right above it (so read in the
    index's order, at most a page of rows), no other read of items but by primary key."""
    assert limited_scans(tree, index) == ["Limit"] * ranges, list(nodes(tree))
    for node in nodes(tree):
        if node.get("Relation Name") == "items":
            assert node.get("Index Name") in (index, "pk_items"), node


CASES = list(itertools.product(item_pages.SORTS, (False, True), (None, 7)))


@pytest.mark.parametrize(("sort", "descending", "category_id"), CASES)
def test_every_items_page_reads_one_range_of_one_index(
    request: pytest.FixtureRequest, sort: ItemSort, descending: bool, category_id: int | None
) -> None:
    nullable = sort in ("weight", "price")
    planner = request.getfixturevalue("stocked_planner" if nullable else "planner")
    listing = item_pages.listing(
        category_id=category_id,
        search=None,
        sort=sort,
        descending=descending,
        limit=50,
        cursor=None,
        include_total=False,
    )
    index = f"ix_items_by_{'category_' if category_id is not None else ''}{sort}"
    if not nullable:
        prefix = "ix_items_by_category_" if category_id is not None else "ix_items_by_"
        assert_served_by_index(plan(planner, item_pages.page(listing)), prefix, bounded=False)
        later = attrs.evolve(listing, after=(CURSOR_VALUES[sort], 12345))
        assert_served_by_index(plan(planner, item_pages.page(later)), prefix, bounded=True)
        return
    # Weights and prices: the rows with a value, then the missing ones (in id order),
    # two ranges of one index; the page is sorted from at most twice its size.
    assert_ranges(plan(planner, item_pages.page(listing)), index, 2)
    middle = planner.execute(text("SELECT (min(id) + max(id)) / 2 FROM items")).scalar_one()
    later = attrs.evolve(listing, after=(CURSOR_VALUES[sort], middle))
    tree = plan(planner, item_pages.page(later))
    assert_ranges(tree, index, 2)
    conditions = [n.get("Index Cond", "") for n in nodes(tree) if n.get("Index Name") == index]
    assert sorted("ROW(" in c for c in conditions) == [False, True], conditions
    # a cursor among the missing ones: only their range, bounded by the id
    missing = attrs.evolve(listing, after=(None, middle))
    tree = plan(planner, item_pages.page(missing))
    assert_ranges(tree, index, 1)
    (condition,) = [n["Index Cond"] for n in nodes(tree) if n.get("Index Name") == index]
    assert "IS NULL" in condition, condition
    assert ("id <" if descending else "id >") in condition, condition


CURSOR_VALUES: dict[str, Any] = {
    "name": "M",
    "weight": 250.0,
    "price": 1999,
    "created": datetime(2026, 1, 1, tzinfo=UTC),
}


SUMMARY_CASES = [
    ("setups", None, "ix_setups_by_name", "M"),
    ("threads", None, "ix_threads_by_created", datetime(2026, 1, 1, tzinfo=UTC)),
    ("threads", "active", "ix_threads_by_status_created", datetime(2026, 1, 1, tzinfo=UTC)),
]


@pytest.mark.parametrize(("kind", "status", "index", "key"), SUMMARY_CASES)
def test_setups_and_threads_pages_take_their_ids_from_one_range_of_one_index(
    planner: Connection, kind: str, status: str | None, index: str, key: Any
) -> None:
    build = summary_pages.setups_page if kind == "setups" else summary_pages.threads_page
    request = summary_pages.paging(kind, status=status, limit=50, cursor=None, include_total=False)
    for after, bounded in ((None, False), ((key, 12345), True)):
        tree = plan(planner, build(attrs.evolve(request, after=after)))
        scans = [n["Node Type"] for n in nodes(tree) if n.get("Relation Name") == kind]
        assert "Seq Scan" not in scans, scans
        (scan,) = index_scans(tree, index)
        if bounded:
            assert "ROW(" in scan.get("Index Cond", ""), scan
