"""The indexes behind the keyset pages of the listings (part of :mod:`gearbox_db.schema`).

``schema`` calls :func:`listing_indexes` on its tables: the ``Index`` objects attach
to them, so ``schema.metadata`` (and ``gearbox-db check``) includes them.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import BigInteger, Index, Table, func, literal_column

__all__ = ["TRIGRAM_INDEX", "last_key", "listing_indexes"]

# Every keyset page of a listing is a range scan of one of these indexes (see
# gearbox_db._queries.item_pages). Weights and prices may be missing and sort last in
# either direction: the sort key is the value with a sentinel beyond every valid value
# (weights are finite, prices are non-negative int4), one per direction, so that each
# direction reads one index in one range, forwards or backwards.

#: Sentinels standing for a missing weight or price: (ascending, descending).
_SENTINELS: Final = {
    "weight_grams": ("'Infinity'::float8", "'-Infinity'::float8"),
    "price_cents": ("2147483648::bigint", "'-1'::bigint"),
}


def last_key(column: str, value: Any, descending: bool) -> Any:
    """``value`` of ``column`` (a weight or price), a missing one replaced by a sentinel
    that sorts last in the direction: the key of the listing indexes and queries."""
    sentinel: Any = literal_column(_SENTINELS[column][1 if descending else 0])
    return func.coalesce(value if column == "weight_grams" else value.cast(BigInteger), sentinel)


def listing_indexes(
    items: Table, setups: Table, threads: Table, thread_candidates: Table
) -> tuple[Index, ...]:
    """The listing indexes on these tables (all built CONCURRENTLY by migration 0003)."""
    c = items.c
    name = (func.lower(c.name), c.name)
    keys: dict[str, tuple[Any, ...]] = {
        "name": name,
        "created": (c.created_at,),
        "weight_asc": (last_key("weight_grams", c.weight_grams, False),),
        "weight_desc": (last_key("weight_grams", c.weight_grams, True),),
        "price_asc": (last_key("price_cents", c.price_cents, False),),
        "price_desc": (last_key("price_cents", c.price_cents, True),),
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
