"""A small async GearBox service on gearbox_db: research a purchase, then buy.

Run it against any database at the schema head::

    gearbox-db upgrade
    python docs/examples/async_service.py [DATABASE_URL]

Without an argument it uses ``DATABASE_URL``, else the embedded development
PostgreSQL (like the CLI).
"""

from __future__ import annotations

import asyncio
import os
import sys

from gearbox_db import AsyncDatabase, ConflictError, InvalidStateError, embedded, migrations


async def research_and_buy(db: AsyncDatabase) -> None:
    """Compare two stoves, resolve the thread, and show the new collection item."""
    async with db.transaction() as tx:  # a second run finds the category already there
        try:
            async with tx.savepoint():
                cook = await tx.categories.create(name="Cook (async example)", icon="flame")
        except ConflictError:
            cook = await tx.categories.get_by_name("Cook (async example)")
    thread = await db.threads.create(name="Which stove?", category_id=cook.id)
    canister = await db.threads.add_candidate(thread.id, name="Canister stove", weight_grams=83.0)
    titanium = await db.threads.add_candidate(
        thread.id, name="Titanium alcohol stove", weight_grams=22.5, price_cents=3500
    )
    await db.threads.move_candidate(titanium.id, before=canister.id)  # titanium first
    resolution = await db.threads.resolve(thread.id, titanium.id)
    print(f"bought {resolution.item.name} ({resolution.item.weight_grams} g)")
    try:
        await db.threads.resolve(thread.id, titanium.id)
    except InvalidStateError as exc:
        print(f"second resolve refused: {exc}")
    detail = await db.threads.get(thread.id)
    print(f"{detail.thread.name}: {detail.thread.status}, {len(detail.candidates)} candidates")


async def main() -> None:
    """Connect, make sure the schema is current, run, close."""
    url = (sys.argv[1:] or [os.environ.get("DATABASE_URL", "")])[0]
    url = url or embedded.start().ensure_database()
    await migrations.aupgrade(url)  # at startup, before serving
    async with AsyncDatabase.connect(url, pool_size=2) as db:
        await research_and_buy(db)


if __name__ == "__main__":
    asyncio.run(main())
