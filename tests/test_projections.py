"""Row projections measure themselves; the fast paths that read tuples by position
are pinned to the columns their statements select."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from sqlalchemy import ColumnClause, column

from gearbox_db._queries import item_pages, items, setups, summary_pages, threads, totals, users
from gearbox_db._queries._compiled import Template
from gearbox_db._queries._projection import Projection
from gearbox_db.records import Item


def _columns(names: str) -> list[ColumnClause[Any]]:
    return [column(name) for name in names]


def test_a_projection_cuts_rows_where_its_parts_are() -> None:
    a, b, c, d = _columns("abcd")
    projection = Projection(first=[a], middle=[b, c], last=[d])
    row: tuple[str, ...] = ("A", "B", "C", "D")
    assert row[projection["first"]] == ("A",)
    assert row[projection["middle"]] == ("B", "C")
    assert projection.at("last") == 3
    assert len(projection) == 4
    assert projection.widths() == {"first": 1, "middle": 2, "last": 1}


def test_a_projection_of_other_sources_must_have_the_same_widths() -> None:
    a, b, c = _columns("abc")
    projection = Projection(one=[a], two=[b, c])
    assert projection.like(one=[c], two=[a, b]) == (c, a, b)
    with pytest.raises(ValueError, match="do not match"):
        projection.like(one=[a, b], two=[c])


def _width(statement: object) -> int:
    """Columns a statement selects (a template's: of the statement it compiles)."""
    built = statement.statement if isinstance(statement, Template) else statement
    return len(built.selected_columns)  # type: ignore[attr-defined]


def test_each_statement_selects_its_projection() -> None:
    assert _width(threads.get(1)) == len(threads._DETAIL)
    assert _width(threads.list_summaries()) == len(threads._SUMMARY)
    assert _width(threads.resolve(1, 2)) == len(threads._RESOLUTION)
    assert _width(setups._DETAIL) == len(setups._DETAIL_ROW)
    assert _width(setups.list_summaries()) == len(setups._SUMMARY)
    assert _width(setups._ADD) == len(setups._ENTRY_ROW)
    assert _width(totals._SETUP_TOTALS) == len(totals._SETUP_TOTALS_ROW)
    assert _width(users.credentials("ann")) == len(users._CREDENTIALS)


def test_the_fast_item_listing_reads_item_rows_then_the_total_last() -> None:
    request = item_pages.listing(**_LISTING, include_total=True)
    selected = list(item_pages.page(request).selected_columns)
    assert [c.name for c in selected[:-1]] == [f.name for f in attrs.fields(Item)]
    assert selected[-1].name == "total"
    plain = item_pages.page(item_pages.listing(**_LISTING, include_total=False))
    assert len(plain.selected_columns) == len(items.COLUMNS) == len(attrs.fields(Item))


_LISTING: dict[str, object] = {
    "category_id": None,
    "search": None,
    "sort": "name",
    "descending": False,
    "limit": 10,
    "cursor": None,
}


@pytest.mark.parametrize("kind", ["setups", "threads"])
def test_the_summary_pages_put_the_total_last(kind: str) -> None:
    request = summary_pages.paging(kind, status=None, limit=5, cursor=None, include_total=True)
    build = summary_pages.setups_page if kind == "setups" else summary_pages.threads_page
    selected = list(build(request).selected_columns)
    assert selected[-1].name == "total"
    plain = build(
        summary_pages.paging(kind, status=None, limit=5, cursor=None, include_total=False)
    )
    assert len(selected) == len(plain.selected_columns) + 1
