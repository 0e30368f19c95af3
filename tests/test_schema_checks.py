"""Every CHECK constraint refuses what it should and accepts the boundary;
property tests of the numeric rules."""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, select, update

from gearbox_db.schema import metadata
from gearbox_db.testing import isolated
from tests.schema_spec import (
    CHECK_VIOLATION,
    INT32_MAX,
    INT32_MIN,
    World,
    assert_violates,
    insert,
    key_of,
    sha256_hex,
    valid_row,
)

# ---------------------------------------------------------------------------
# CHECK constraints: each refuses what it should and accepts the boundary
# ---------------------------------------------------------------------------

_OK = None
_BAD_HASHES = [
    sha256_hex("x").upper(),
    sha256_hex("x")[:63],
    sha256_hex("x") + "0",
    sha256_hex("x") + "\n",
    " " + sha256_hex("x")[1:],
    "g" * 64,
    "raw-secret-token",
    "",
]
_GOOD_HASHES = ["0" * 64, "f" * 64, "0123456789abcdef" * 4]

CHECK_CASES: list[tuple[str, str, Any, str | None]] = [
    *[
        (table, "weight_grams", value, expected)
        for table in ("items", "thread_candidates")
        for value, expected in [
            (0.0, _OK),
            (-0.0, _OK),
            (5e-324, _OK),
            (sys.float_info.max, _OK),
            (None, _OK),
            (-5e-324, f"ck_{table}_weight_grams_valid"),
            (-1.0, f"ck_{table}_weight_grams_valid"),
            (math.nan, f"ck_{table}_weight_grams_valid"),
            (math.inf, f"ck_{table}_weight_grams_valid"),
            (-math.inf, f"ck_{table}_weight_grams_valid"),
        ]
    ],
    *[
        (table, "price_cents", value, expected)
        for table in ("items", "thread_candidates")
        for value, expected in [
            (0, _OK),
            (INT32_MAX, _OK),
            (None, _OK),
            (-1, f"ck_{table}_price_cents_non_negative"),
            (INT32_MIN, f"ck_{table}_price_cents_non_negative"),
        ]
    ],
    ("items", "quantity", 1, _OK),
    ("items", "quantity", INT32_MAX, _OK),
    ("items", "quantity", 0, "ck_items_quantity_positive"),
    ("items", "quantity", -1, "ck_items_quantity_positive"),
    ("thread_candidates", "sort_order", 0.0, _OK),
    ("thread_candidates", "sort_order", -1.5, _OK),
    ("thread_candidates", "sort_order", -sys.float_info.max, _OK),
    ("thread_candidates", "sort_order", sys.float_info.max, _OK),
    ("thread_candidates", "sort_order", math.nan, "ck_thread_candidates_sort_order_finite"),
    ("thread_candidates", "sort_order", math.inf, "ck_thread_candidates_sort_order_finite"),
    ("thread_candidates", "sort_order", -math.inf, "ck_thread_candidates_sort_order_finite"),
    *[("threads", "status", value, _OK) for value in ("active", "resolved")],
    *[
        ("threads", "status", value, "ck_threads_status_valid")
        for value in ("Active", "open", "", "active ")
    ],
    *[
        ("thread_candidates", "status", value, _OK)
        for value in ("researching", "ordered", "arrived")
    ],
    *[
        ("thread_candidates", "status", value, "ck_thread_candidates_status_valid")
        for value in ("Ordered", "purchased", "")
    ],
    *[("setup_items", "classification", value, _OK) for value in ("base", "worn", "consumable")],
    *[
        ("setup_items", "classification", value, "ck_setup_items_classification_valid")
        for value in ("Base", "food", "")
    ],
    *[("oauth_codes", "code_challenge_method", value, _OK) for value in ("S256", "plain")],
    *[
        (
            "oauth_codes",
            "code_challenge_method",
            value,
            "ck_oauth_codes_code_challenge_method_valid",
        )
        for value in ("s256", "PLAIN", "S512", "")
    ],
    *[
        (table, column, value, expected)
        for table, column in [
            ("sessions", "token_hash"),
            ("api_keys", "key_hash"),
            ("oauth_codes", "code_hash"),
            ("oauth_tokens", "access_token_hash"),
            ("oauth_tokens", "refresh_token_hash"),
        ]
        for value, expected in [
            *[(good, _OK) for good in _GOOD_HASHES],
            *[(bad, f"ck_{table}_{column}_sha256_hex") for bad in _BAD_HASHES],
        ]
    ],
    ("oauth_tokens", "refresh_token_hash", None, _OK),
]


@pytest.mark.parametrize(
    ("table", "column", "value", "constraint"),
    CHECK_CASES,
    ids=[f"{t}.{c}={v!r:.24}-{'refused' if e else 'ok'}" for t, c, v, e in CHECK_CASES],
)
def test_check_constraint(
    gearbox_connection: Connection,
    world: World,
    table: str,
    column: str,
    value: Any,
    constraint: str | None,
) -> None:
    conn = gearbox_connection
    t = metadata.tables[table]
    row = valid_row(conn, world, table) | {column: value}
    if constraint is None:
        with isolated(conn):
            stored = conn.execute(t.insert().values(row).returning(t.c[column])).scalar_one()
        assert stored == value
    else:
        assert_violates(conn, t.insert().values(row), constraint, CHECK_VIOLATION)
        # UPDATE is held to the same rule as INSERT
        key = insert(conn, world, table)[key_of(table)]
        statement = update(t).where(t.c[key_of(table)] == key).values({column: value})
        assert_violates(conn, statement, constraint, CHECK_VIOLATION)


# ---------------------------------------------------------------------------
# Property tests of the numeric rules
# ---------------------------------------------------------------------------

db_examples = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None, max_examples=100
)


def _same_float(a: float, b: float) -> bool:
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _store(conn: Connection, world: World, table: str, column: str, value: Any) -> Any:
    """Insert a row with ``column = value`` and read the value back with a new SELECT."""
    t = metadata.tables[table]
    row_id = conn.execute(
        t.insert().values(valid_row(conn, world, table) | {column: value}).returning(t.c.id)
    ).scalar_one()
    return conn.execute(select(t.c[column]).where(t.c.id == row_id)).scalar_one()


@pytest.mark.parametrize("table", ["items", "thread_candidates"])
@db_examples
@given(weight=st.floats(min_value=0.0, allow_infinity=False) | st.floats())
@example(weight=0.0)
@example(weight=-0.0)
@example(weight=5e-324)
@example(weight=sys.float_info.max)
@example(weight=-5e-324)
@example(weight=math.nan)
@example(weight=math.inf)
@example(weight=-math.inf)
def test_weight_is_any_finite_non_negative_double(
    gearbox_connection: Connection, world: World, table: str, weight: float
) -> None:
    with isolated(gearbox_connection) as conn:
        if math.isfinite(weight) and weight >= 0:
            assert _same_float(_store(conn, world, table, "weight_grams", weight), weight)
        else:
            t = metadata.tables[table]
            statement = t.insert().values(valid_row(conn, world, table) | {"weight_grams": weight})
            assert_violates(conn, statement, f"ck_{table}_weight_grams_valid", CHECK_VIOLATION)


@pytest.mark.parametrize("table", ["items", "thread_candidates"])
@db_examples
@given(price=st.integers(INT32_MIN, INT32_MAX))
@example(price=0)
@example(price=-1)
@example(price=INT32_MAX)
def test_price_is_any_non_negative_int32(
    gearbox_connection: Connection, world: World, table: str, price: int
) -> None:
    with isolated(gearbox_connection) as conn:
        if price >= 0:
            assert _store(conn, world, table, "price_cents", price) == price
        else:
            t = metadata.tables[table]
            statement = t.insert().values(valid_row(conn, world, table) | {"price_cents": price})
            assert_violates(
                conn, statement, f"ck_{table}_price_cents_non_negative", CHECK_VIOLATION
            )


@db_examples
@given(quantity=st.integers(INT32_MIN, INT32_MAX))
@example(quantity=1)
@example(quantity=0)
@example(quantity=INT32_MAX)
def test_quantity_is_any_positive_int32(
    gearbox_connection: Connection, world: World, quantity: int
) -> None:
    with isolated(gearbox_connection) as conn:
        if quantity >= 1:
            assert _store(conn, world, "items", "quantity", quantity) == quantity
        else:
            t = metadata.tables["items"]
            statement = t.insert().values(valid_row(conn, world, "items") | {"quantity": quantity})
            assert_violates(conn, statement, "ck_items_quantity_positive", CHECK_VIOLATION)


@db_examples
@given(order=st.floats(allow_nan=False, allow_infinity=False) | st.floats())
@example(order=-sys.float_info.max)
@example(order=math.nan)
def test_sort_order_is_any_finite_double(
    gearbox_connection: Connection, world: World, order: float
) -> None:
    with isolated(gearbox_connection) as conn:
        if math.isfinite(order):
            assert _same_float(_store(conn, world, "thread_candidates", "sort_order", order), order)
        else:
            t = metadata.tables["thread_candidates"]
            values = valid_row(conn, world, "thread_candidates") | {"sort_order": order}
            assert_violates(
                conn,
                t.insert().values(values),
                "ck_thread_candidates_sort_order_finite",
                CHECK_VIOLATION,
            )
