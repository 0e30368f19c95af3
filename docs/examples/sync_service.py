"""A small sync GearBox service on gearbox_db: plan a bikepacking trip.

Run it against any database at the schema head::

    gearbox-db upgrade
    python docs/examples/sync_service.py [DATABASE_URL]

Without an argument it uses ``DATABASE_URL``, else the embedded development
PostgreSQL (like the CLI).
"""

from __future__ import annotations

import os
import sys

from gearbox_db import ConflictError, Database, embedded, migrations


def plan_trip(db: Database) -> None:
    """Build a small collection and a setup, then print the setup's totals."""
    with db.transaction() as tx:  # all or nothing
        try:
            with tx.savepoint():  # an expected error must not abort the transaction
                shelter = tx.categories.create(name="Shelter", icon="tent")
        except ConflictError:
            shelter = tx.categories.get_by_name("Shelter")
        tarp = tx.items.create(name="Tarp", category_id=shelter.id, weight_grams=310.5)
        pegs = tx.items.create(name="Pegs", category_id=shelter.id, weight_grams=8.0, quantity=6)
        setup = tx.setups.create(name="Overnighter")
        tx.setups.replace_items(setup.id, {tarp.id: "base", pegs.id: "base"})

    # Single operations: each runs in its own transaction.
    totals = db.setups.totals(setup.id)
    print(f"{setup.name}: pack {totals.pack_grams:.1f} g, {totals.unit_count} units")
    page = db.items.list(search="tarp", include_total=True)
    print(f"{page.total} item(s) match 'tarp': {[item.name for item in page.items]}")


def main() -> None:
    """Connect, make sure the schema is current, run, close."""
    url = (sys.argv[1:] or [os.environ.get("DATABASE_URL", "")])[0]
    url = url or embedded.start().ensure_database()
    migrations.upgrade(url)
    with Database.connect(url, pool_size=2) as db:
        plan_trip(db)


if __name__ == "__main__":
    main()
