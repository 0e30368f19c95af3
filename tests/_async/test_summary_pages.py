"""Pages of the setups and threads listings: keyset cursors, totals, filters, one query each."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from gearbox_db import AsyncDatabase, ValidationError
from gearbox_db.records import SetupSummary, ThreadSummary


async def all_setup_pages(db: AsyncDatabase, limit: int) -> list[list[SetupSummary]]:
    pages: list[list[SetupSummary]] = []
    cursor = None
    while True:
        page = await db.setups.list(limit=limit, cursor=cursor, include_total=True)
        pages.append(list(page.setups))
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


async def all_thread_pages(
    db: AsyncDatabase, limit: int, **filters: Any
) -> list[list[ThreadSummary]]:
    pages: list[list[ThreadSummary]] = []
    cursor = None
    while True:
        page = await db.threads.list(limit=limit, cursor=cursor, **filters)
        pages.append(list(page.threads))
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


async def test_setups_come_by_name_in_pages_each_with_its_totals(db: AsyncDatabase) -> None:
    category = await db.categories.create(name="Sleep", icon="moon")
    names = ["kilo", "Alpha", "echo", "bravo", "delta", "charlie", "alpha"]
    made = {name: await db.setups.create(name=name) for name in names}
    quilt = await db.items.create(name="Quilt", category_id=category.id, weight_grams=600.0)
    await db.setups.add_item(made["delta"].id, quilt.id, classification="base")
    pages = await all_setup_pages(db, limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    listed = [summary for page in pages for summary in page]
    assert [s.setup.name for s in listed] == sorted(names)  # by name, then id
    for summary in listed:  # the totals of setups.totals, without the per-category breakdown
        totals = await db.setups.totals(summary.setup.id)
        assert summary.totals == attrs.evolve(totals, by_category=())
    assert next(s for s in listed if s.setup.name == "delta").totals.total_grams == 600.0
    first = await db.setups.list(limit=3, include_total=True)
    assert first.total == len(names)
    assert (await db.setups.list(limit=3)).total is None


async def test_threads_come_newest_first_in_pages_with_their_candidate_counts(
    db: AsyncDatabase,
) -> None:
    category = await db.categories.create(name="Shelter", icon="tent")
    made = [await db.threads.create(name=f"thread {n}", category_id=category.id) for n in range(7)]
    candidate = await db.threads.add_candidate(made[2].id, name="Tarp")
    await db.threads.add_candidate(made[2].id, name="Tent")
    await db.threads.resolve(
        made[4].id, (await db.threads.add_candidate(made[4].id, name="Bivy")).id
    )
    pages = await all_thread_pages(db, limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    listed = [summary for page in pages for summary in page]
    newest_first = sorted(made, key=lambda t: (t.created_at, t.id), reverse=True)
    assert [s.thread.id for s in listed] == [t.id for t in newest_first]
    counts = {s.thread.id: s.candidate_count for s in listed}
    assert counts[made[2].id] == 2
    assert counts[made[4].id] == 1
    assert counts[made[0].id] == 0
    resolved = await all_thread_pages(db, limit=1, status="resolved")
    assert [[s.thread.id for s in page] for page in resolved] == [[made[4].id]]
    active = await db.threads.list(status="active", limit=2, include_total=True)
    assert active.total == 6
    assert len(active.threads) == 2
    assert candidate.thread_id == made[2].id


async def test_an_empty_page_still_counts(db: AsyncDatabase) -> None:
    page = await db.threads.list(status="resolved", include_total=True)
    assert page.threads == ()
    assert page.next_cursor is None
    assert page.total == 0


async def test_a_cursor_only_fits_its_own_listing(db: AsyncDatabase) -> None:
    category = await db.categories.create(name="Shelter", icon="tent")
    for n in range(3):
        await db.setups.create(name=f"setup {n}")
        await db.threads.create(name=f"thread {n}", category_id=category.id)
    setups_cursor = (await db.setups.list(limit=1)).next_cursor
    threads_cursor = (await db.threads.list(limit=1, status="active")).next_cursor
    assert setups_cursor is not None
    assert threads_cursor is not None
    with pytest.raises(ValidationError, match="invalid cursor"):
        await db.threads.list(cursor=setups_cursor)
    with pytest.raises(ValidationError, match="invalid cursor"):
        await db.threads.list(cursor=threads_cursor, status="resolved")
    with pytest.raises(ValidationError, match="invalid cursor"):
        await db.setups.list(cursor="not-a-cursor")
    with pytest.raises(ValidationError):
        await db.setups.list(limit=0)
