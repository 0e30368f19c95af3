"""The pure conversions and rules of the importer (no database)."""

from __future__ import annotations

import hashlib
import math
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gearbox_db.importer import _convert as cv

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    return (moment - PG_EPOCH) // timedelta(microseconds=1)


def rule(converter: cv.Converter, value: Any) -> tuple[str, Any]:
    with pytest.raises(cv.Invalid) as caught:
        converter(value)
    return caught.value.rule, caught.value.fix


@pytest.mark.parametrize(
    ("raw", "moment"),
    [
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (1_700_000_000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        (99_999_999_999, datetime(5138, 11, 16, 9, 46, 39, tzinfo=UTC)),
        (100_000_000_000, datetime(1973, 3, 3, 9, 46, 40, tzinfo=UTC)),  # from 10^11: ms
        (1_700_000_000_123, datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)),
        (1_700_000_000.25, datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)),
        ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("2024-05-01 12:00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),  # naive = UTC
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T14:00:00.000001+02:00", datetime(2024, 5, 1, 12, 0, 0, 1, tzinfo=UTC)),
        (-86400, datetime(1969, 12, 31, tzinfo=UTC)),
    ],
)
def test_timestamps_in_every_documented_form(raw: Any, moment: datetime) -> None:
    assert cv.timestamp(raw) == micros(moment)


@pytest.mark.parametrize(
    "raw", ["yesterday", "", None, b"\x01", math.inf, math.nan, 10**16, -(10**12), "10000-01-01"]
)
def test_bad_timestamps(raw: Any) -> None:
    assert rule(cv.timestamp, raw) == ("bad_timestamp", cv.OTHER_TIMESTAMP)


@given(st.integers(cv.MIN_SECONDS, cv.MS_THRESHOLD - 1))
def test_epoch_seconds_are_exact(seconds: int) -> None:
    assert cv.timestamp(seconds) == (seconds - cv.PG_EPOCH) * 1_000_000


@given(st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_iso_text_is_exact_to_the_microsecond(moment: datetime) -> None:
    assert cv.timestamp(moment.isoformat()) == micros(moment)
    assert cv.timestamp(moment.replace(tzinfo=None).isoformat(sep=" ")) == micros(moment)


@given(st.floats(0, allow_nan=False, allow_infinity=False))
def test_a_weight_is_the_same_double(grams: float) -> None:
    assert struct.pack(">d", cv.weight(grams)) == struct.pack(">d", grams)


@pytest.mark.parametrize(
    ("converter", "raw", "expected"),
    [
        (cv.weight, None, None),
        (cv.weight, 12, 12.0),
        (cv.weight, "12.5", 12.5),
        (cv.price, "1200", 1200),
        (cv.price, 1200.0, 1200),
        (cv.price, None, None),
        (cv.quantity, "3", 3),
        (cv.sort_order, -1.5, -1.5),
        (cv.boolean, 0, False),
        (cv.boolean, 1, True),
        (cv.boolean, "1", True),
        (cv.boolean, "0", False),
        (cv.boolean, "true", True),
        (cv.boolean, "False", False),
        (cv.text, "tab\t\\N 🏕", "tab\t\\N 🏕"),
        (cv.text_or_null, None, None),
        (cv.enum(("a", "b"), "a"), "b", "b"),
        (cv.redirect_uris, '["https://a.example/cb", "x"]', ["https://a.example/cb", "x"]),
        (cv.redirect_uris, "[]", []),
        (cv.sha256_hex, "ab" * 32, "ab" * 32),
        (cv.secret_hash, "tok", hashlib.sha256(b"tok").hexdigest()),
        (cv.reference, "42", 42),
        (cv.reference, "forty-two", None),
        (cv.candidate_reference, None, None),
    ],
)
def test_valid_variants_are_converted(converter: cv.Converter, raw: Any, expected: Any) -> None:
    assert converter(raw) == expected


@pytest.mark.parametrize(
    ("converter", "raw", "expected_rule", "fix"),
    [
        (cv.text, "a\x00b", "nul_character", "ab"),
        (cv.text, b"\xffab", "not_text", "\ufffdab"),
        (cv.text, None, "missing_value", ""),
        (cv.weight, "heavy", "not_a_number", None),
        (cv.weight, -0.5, "negative_number", None),
        (cv.weight, math.inf, "infinite_number", None),
        (cv.weight, "1e999", "infinite_number", None),
        (cv.weight, "inf", "not_a_number", None),
        (cv.price, 12.5, "not_an_integer", None),
        (cv.price, -1, "negative_number", None),
        (cv.price, 2**31, "out_of_range", None),
        (cv.quantity, 0, "quantity_below_1", 1),
        (cv.quantity, "many", "not_a_number", 1),
        (cv.sort_order, math.inf, "infinite_number", 0.0),
        (cv.boolean, "maybe", "bad_boolean", False),
        (cv.boolean, 2, "bad_boolean", False),
        (cv.enum(("active", "resolved"), "active"), "Active", "unknown_value", "active"),
        (cv.redirect_uris, "[not json", "invalid_json", []),
        (cv.redirect_uris, '{"a": 1}', "invalid_json", []),
        (cv.redirect_uris, '["a\\u0000b"]', "nul_character", ["ab"]),
        (cv.sha256_hex, "AB" * 32, "bad_hash", cv.DROP_ROW),
        (cv.secret_hash, None, "missing_value", cv.DROP_ROW),
        (cv.candidate_reference, "x", "bad_resolved_candidate", None),
    ],
)
def test_problems_name_their_rule_and_repair(
    converter: cv.Converter, raw: Any, expected_rule: str, fix: Any
) -> None:
    assert rule(converter, raw) == (expected_rule, fix)


def test_values_are_shortened_for_reports() -> None:
    assert cv.shorten("x" * 100) == repr("x" * 100)[:39] + "…"
    assert cv.shorten(b"\x00" * 9) == "<9 bytes>"
    assert cv.shorten("a\x00b") == "'a\\x00b'"
    assert cv.shorten(None) == "None"
