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


CASES = list(itertools.product(item_pages.SORTS, (False, True), (None, 7)))


@pytest.mark.parametrize(("sort", "descending", "category_id"), CASES)
def test_every_items_page_reads_one_range_of_one_index(
    planner: Connection, sort: ItemSort, descending: bool, category_id: int | None
) -> None:
    request = item_pages.listing(
        category_id=category_id,
        search=None,
        sort=sort,
        descending=descending,
        limit=50,
        cursor=None,
        include_total=False,
    )
    prefix = "ix_items_by_category_" if category_id is not None else "ix_items_by_"
    assert_served_by_index(plan(planner, item_pages.page(request)), prefix, bounded=False)
    # the cursor of a later page: a value, and for weights and prices a missing one too
    for value in [CURSOR_VALUES[sort], *([None] if sort in ("weight", "price") else [])]:
        later = attrs.evolve(request, after=(value, 12345))
        assert_served_by_index(plan(planner, item_pages.page(later)), prefix, bounded=True)


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
