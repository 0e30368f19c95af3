"""Every listing call at two sizes: the cost of a page should follow the page, not the data.

    python benchmarks/listings.py --url postgresql://postgres@127.0.0.1:5432/big [--runs 7]

On a database that already holds the data (build it once: generate a legacy file
with ``gearbox_db.testing.legacy`` and import it, e.g. ``benchmarks/import_sqlite.py``
or ``gearbox-db import-sqlite``; ``VACUUM ANALYZE`` afterwards), prints the median
of ``--runs`` calls (after a warm-up call) of

- ``items.list`` for every sort and direction: the first page, the next page
  (its cursor) and a deep page (the cursor of the row in the middle of the
  listing), each also with ``category_id`` (the biggest category);
- ``items.list(search=...)`` (first page, and with ``include_total``);
- ``categories.list()``, ``items.totals()``, ``setups.list()``, ``threads.list()``;
  beside the first two, the statements they ran before revision 0004 (an
  aggregate over every item; :func:`before_0004`) on the same data.

Beside the times, the shared buffers each items page touches (``EXPLAIN (ANALYZE,
BUFFERS)``): the work of the page, which the load of a shared machine does not change.

Figures only, never asserted. The load average is printed (a busy machine slows
every call down).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import Engine, Select, create_engine, func, select, text

from gearbox_db import Database
from gearbox_db._queries import item_pages as q
from gearbox_db._queries.items import COLUMNS, JOINED
from gearbox_db._queries.totals import as_double, cents, grams
from gearbox_db._url import to_sqlalchemy_url
from gearbox_db.records import ItemSort
from gearbox_db.schema import categories, items


def timed(call: Callable[[], Any], runs: int) -> float:
    """Median milliseconds of ``runs`` calls of ``call`` (one warm-up call first)."""
    call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 1)


def middle_cursor(engine: Engine, request: q.Listing, total: int) -> str:
    """The cursor of a page starting in the middle of the listing (the listing's order,
    read by offset: a page reads only its own index ranges)."""
    shape = q._shape(request)
    statement = (
        select(*COLUMNS)
        .select_from(JOINED)
        .where(*q._filters(shape))
        .order_by(*q._order(shape, items, missing_last=True))
        .limit(1)
        .offset(total // 2)
    )
    values = {"category_id": request.category_id} if request.category_id is not None else {}
    with engine.connect() as conn:
        row = conn.execute(statement, values).one()
    last = q.records([row])[0]
    return q._encode(request, last)


def _request(sort: ItemSort, descending: bool, category_id: int | None) -> q.Listing:
    return q.listing(
        category_id=category_id,
        search=None,
        sort=sort,
        descending=descending,
        limit=50,
        cursor=None,
        include_total=False,
    )


def _options(request: q.Listing, cursor: str | None) -> dict[str, Any]:
    names = ("category_id", "search", "sort", "descending", "limit", "include_total")
    return {**{name: getattr(request, name) for name in names}, "cursor": cursor}


def buffers(engine: Engine, request: q.Listing) -> int:
    """Shared buffers the page's statement touches (hit or read): its cost, free of the
    machine's load."""
    compiled = q.page(request).compile(dialect=engine.dialect)
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {compiled}", compiled.params
        ).scalar_one()
    top = plan[0]
    touched = top["Plan"]["Shared Hit Blocks"] + top["Plan"]["Shared Read Blocks"]
    return int(touched)


def item_rows(
    db: Database, engine: Engine, runs: int, category_id: int, counts: dict[Any, int]
) -> list[str]:
    lines = []
    for sort in q.SORTS:
        for descending in (False, True):
            for category in (None, category_id):
                args: dict[str, Any] = {"sort": sort, "descending": descending}
                if category is not None:
                    args["category_id"] = category
                first = db.items.list(**args)
                deep = middle_cursor(engine, _request(sort, descending, category), counts[category])
                cursors = (None, first.next_cursor, deep)
                figures = [timed(partial(db.items.list, cursor=c, **args), runs) for c in cursors]
                request = _request(sort, descending, category)
                pages = [request, *(q.listing(**_options(request, c)) for c in cursors[1:])]
                touched = [buffers(engine, page) for page in pages]
                label = f"items.list sort={sort}{' desc' if descending else ''}"
                label += f" category={category}" if category is not None else ""
                ms = " / ".join(f"{f:7.1f}" for f in figures)
                lines.append(f"{label:<52} {ms}   {' / '.join(map(str, touched))}")
    return lines


def before_0004() -> dict[str, Select[Any]]:
    """The statements of ``categories.list()`` and ``items.totals()`` before revision 0004."""
    it, c = items.c, categories.c
    summaries = (
        select(
            c.id,
            c.name,
            c.icon,
            c.created_at,
            func.count(it.id),
            as_double(grams(it.weight_grams, it.quantity)),
            func.coalesce(func.sum(cents(it.price_cents, it.quantity)), 0),
        )
        .outerjoin(items, it.category_id == c.id)
        .group_by(c.id)
        .order_by(c.name, c.id)
    )
    totals = select(
        func.coalesce(func.sum(it.quantity), 0),
        as_double(grams(it.weight_grams, it.quantity)),
        func.coalesce(func.sum(cents(it.price_cents, it.quantity)), 0),
        func.count().filter(it.weight_grams.is_(None)),
    )
    return {"categories.list()": summaries, "items.totals()": totals}


def _run_all(engine: Engine, statement: Select[Any]) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(statement))


def other_rows(db: Database, runs: int, search: str, engine: Engine) -> list[str]:
    calls: dict[str, Callable[[], Any]] = {
        f"items.list search={search!r}": lambda: db.items.list(search=search),
        f"items.list search={search!r} include_total": lambda: db.items.list(
            search=search, include_total=True
        ),
        "items.list include_total": lambda: db.items.list(include_total=True),
        "categories.list()": db.categories.list,
        "items.totals()": db.items.totals,
        "setups.list()": db.setups.list,
        "setups.list(include_total=True)": partial(db.setups.list, include_total=True),
        "threads.list()": db.threads.list,
        "threads.list(status='active')": partial(db.threads.list, status="active"),
    }
    for name, statement in before_0004().items():
        calls[f"{name} before 0004 (aggregate over items)"] = partial(_run_all, engine, statement)
    return [f"{name:<52} {timed(call, runs):7.1f}" for name, call in calls.items()]


def main() -> None:
    """Parse the options, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a database holding the data")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--search", default="tent")
    args = parser.parse_args()
    db = Database.connect(args.url)
    engine = create_engine(to_sqlalchemy_url(args.url))
    try:
        with engine.connect() as conn:
            total = conn.execute(text("SELECT count(*) FROM items")).scalar_one()
            category_id, in_category = conn.execute(
                text("SELECT category_id, count(*) FROM items GROUP BY 1 ORDER BY 2 DESC LIMIT 1")
            ).one()
        print(f"{total} items; biggest category {category_id} ({in_category} items)")
        print(f"median of {args.runs} calls, ms; load average {os.getloadavg()[0]:.2f}")
        print(f"{'call':<52} first / next / middle page (ms)   buffers touched")
        counts = {None: total, category_id: in_category}
        for line in item_rows(db, engine, args.runs, category_id, counts):
            print(line)
        for line in other_rows(db, args.runs, args.search, engine):
            print(line)
        print(f"load average {os.getloadavg()[0]:.2f}")
    finally:
        db.close()
        engine.dispose()


if __name__ == "__main__":
    main()
