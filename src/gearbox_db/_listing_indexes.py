"""The indexes behind the keyset pages of the listings (part of :mod:`gearbox_db.schema`).

``schema`` calls :func:`listing_indexes` on its tables: the ``Index`` objects attach
to them, so ``schema.metadata`` (and ``gearbox-db check``) includes them.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Index, Table, func

__all__ = ["TRIGRAM_INDEX", "listing_indexes"]

# Every keyset page of a listing is a range scan of one of these indexes (see
# gearbox_db._queries.item_pages), forwards or backwards: one index per sort key serves
# both directions. Weights and prices may be missing and sort last in either direction:
# a page of them reads two ranges of the same index, the rows holding a value (IS NOT
# NULL), then the missing ones (IS NULL, in id order), each cut at the page's size.


def listing_indexes(
    items: Table, setups: Table, threads: Table, thread_candidates: Table
) -> tuple[Index, ...]:
    """The listing indexes on these tables (built CONCURRENTLY by migrations 0003 and 0005)."""
    c = items.c
    name = (func.lower(c.name), c.name)
    keys: dict[str, tuple[Any, ...]] = {
        "name": name,
        "created": (c.created_at,),
        "weight": (c.weight_grams,),
        "price": (c.price_cents,),
    }
    indexes = []
    for sort, columns in keys.items():
        indexes.append(Index(f"ix_items_by_{sort}", *columns, c.id))
        indexes.append(Index(f"ix_items_by_category_{sort}", c.category_id, *columns, c.id))
    indexes += [
        Index("ix_setups_by_name", setups.c.name, setups.c.id),
        Index("ix_threads_by_created", threads.c.created_at, threads.c.id),
        Index("ix_threads_by_status_created", threads.c.status, threads.c.created_at, threads.c.id),
        Index(
            "ix_thread_candidates_by_thread_order",
            thread_candidates.c.thread_id,
            thread_candidates.c.sort_order,
            thread_candidates.c.id,
        ),
    ]
    return tuple(indexes)


#: The trigram index of item names: created by migration 0003 only where the pg_trgm
#: extension can be created, so it is not part of :data:`metadata` (``check`` ignores it).
TRIGRAM_INDEX: Final = "ix_items_name_trgm"
