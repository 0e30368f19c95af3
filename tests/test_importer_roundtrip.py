"""Property: any valid legacy file imports value for value (hypothesis)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection

from gearbox_db.importer import import_sqlite
from gearbox_db.testing import isolated, legacy
from tests.importer_oracle import actual, assert_imported, expected

Tables = dict[str, list[dict[str, Any]]]

#: Any text PostgreSQL can store: every code point but NUL and the surrogates.
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
MS = 10**11


def _iso(moment: datetime, naive: bool, sep: str) -> str:
    return (moment.replace(tzinfo=None) if naive else moment).isoformat(sep=sep)


def _minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


TIMESTAMP = st.one_of(
    st.integers(-62135596800, MS - 1),  # epoch seconds (any date from year 1)
    st.integers(MS, 253402300799999),  # epoch milliseconds
    st.floats(0, 4e9, allow_nan=False),  # fractional seconds
    st.builds(
        _iso,
        st.datetimes(
            datetime(2, 1, 1),
            datetime(9998, 12, 31),
            timezones=st.builds(
                timezone, st.integers(-720, 840).map(lambda m: timedelta(minutes=m))
            ),
        ),
        st.booleans(),
        st.sampled_from(["T", " "]),
    ),
)
WEIGHT = st.one_of(
    st.none(),
    st.integers(0, 10**7).map(float),
    st.floats(0, allow_nan=False, allow_infinity=False),
)
SORT = st.one_of(
    st.integers(-100, 100).map(float), st.floats(allow_nan=False, allow_infinity=False)
)
PRICE = st.one_of(st.none(), st.integers(0, 2**31 - 1))
BOOLEAN = st.sampled_from([0, 1, "true", "false", "TRUE"])


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def _gear(draw: st.DrawFn, gear_id: int, categories: list[int]) -> dict[str, Any]:
    return {
        "id": gear_id,
        "name": draw(TEXT),
        "weight_grams": draw(WEIGHT),
        "price_cents": draw(PRICE),
        "category_id": draw(st.sampled_from(categories)),
        "notes": draw(_maybe(TEXT)),
        "product_url": draw(_maybe(TEXT)),
        "image_filename": draw(_maybe(TEXT)),
        "image_source_url": draw(_maybe(TEXT)),
        "created_at": draw(TIMESTAMP),
        "updated_at": draw(TIMESTAMP),
    }


def _ids(draw: st.DrawFn, most: int, least: int = 0) -> list[int]:
    return sorted(draw(st.sets(st.integers(1, 10**6), min_size=least, max_size=most)))


CANDIDATE_STATUS = st.sampled_from(["researching", "ordered", "arrived"])
CLASSIFICATION = st.sampled_from(["base", "worn", "consumable"])


def _stamped(draw: st.DrawFn, *columns: str) -> dict[str, Any]:
    return {column: draw(TIMESTAMP) for column in columns}


def _candidate(draw: st.DrawFn, cid: int, tid: int, categories: list[int]) -> dict[str, Any]:
    return draw(_gear(cid, categories)) | {
        "thread_id": tid,
        "status": draw(CANDIDATE_STATUS),
        "pros": draw(_maybe(TEXT)),
        "cons": draw(_maybe(TEXT)),
        "sort_order": draw(SORT),
    }


def _threads(draw: st.DrawFn, categories: list[int]) -> Tables:
    threads: list[dict[str, Any]] = []
    candidates: list[dict[str, Any]] = []
    taken: set[int] = set()
    for tid in _ids(draw, 3):
        mine = [_candidate(draw, c, tid, categories) for c in _ids(draw, 3) if c not in taken]
        taken.update(c["id"] for c in mine)
        candidates += mine
        resolved = draw(st.sampled_from([None, *[c["id"] for c in mine]]))
        thread = {
            "id": tid,
            "name": draw(TEXT),
            "status": "resolved" if resolved else "active",
            "resolved_candidate_id": resolved,
            "category_id": draw(st.sampled_from(categories)),
        }
        threads.append(thread | _stamped(draw, "created_at", "updated_at"))
    return {"threads": threads, "thread_candidates": candidates}


@st.composite
def _collection(draw: st.DrawFn) -> Tables:
    names = draw(st.lists(TEXT, min_size=1, max_size=4, unique=True))
    cats = _ids(draw, len(names), len(names))
    categories = [
        {"id": i, "name": n, "icon": draw(TEXT)} | _stamped(draw, "created_at")
        for i, n in zip(cats, names, strict=True)
    ]
    quantity = st.integers(1, 2**31 - 1)
    items = [draw(_gear(i, cats)) | {"quantity": draw(quantity)} for i in _ids(draw, 4)]
    return {"categories": categories, "items": items, **_threads(draw, cats)}


def _setups(draw: st.DrawFn, items: list[int]) -> Tables:
    setups = [
        {"id": s, "name": draw(TEXT)} | _stamped(draw, "created_at", "updated_at")
        for s in _ids(draw, 2)
    ]
    pairs = [(s["id"], i) for s in setups for i in items]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=4)) if pairs else []
    entries = [
        {"id": n + 1, "setup_id": s, "item_id": i, "classification": draw(CLASSIFICATION)}
        for n, (s, i) in enumerate(chosen)
    ]
    return {"setups": setups, "setup_items": entries}


def _users(draw: st.DrawFn, secrets: Iterator[str]) -> Tables:
    users = [
        {"id": u, "username": f"u{u}" + draw(TEXT), "password_hash": draw(TEXT)}
        | _stamped(draw, "created_at")
        for u in _ids(draw, 2, 1)
    ]
    ids = st.sampled_from([u["id"] for u in users])
    sessions = [
        {"id": next(secrets), "user_id": draw(ids)} | _stamped(draw, "expires_at", "created_at")
        for _ in range(draw(st.integers(0, 3)))
    ]
    keys = [
        {
            "id": k,
            "user_id": draw(ids),
            "name": draw(TEXT),
            "key_hash": hashlib.sha256(str(k).encode()).hexdigest(),
            "key_prefix": draw(TEXT),
            "last_used_at": draw(_maybe(TIMESTAMP)),
        }
        | _stamped(draw, "created_at")
        for k in _ids(draw, 2)
    ]
    return {"users": users, "sessions": sessions, "api_keys": keys}


def _clients(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [
        {
            "id": c,
            "client_id": f"c{c}" + draw(TEXT),
            "client_name": draw(_maybe(TEXT)),
            "redirect_uris": json.dumps(
                draw(st.lists(TEXT, max_size=3)), ensure_ascii=draw(st.booleans())
            ),
        }
        | _stamped(draw, "created_at")
        for c in _ids(draw, 2, 1)
    ]


def _oauth(draw: st.DrawFn, users: list[int], secrets: Iterator[str]) -> Tables:
    clients = _clients(draw)
    client = st.sampled_from([c["client_id"] for c in clients])
    user = st.sampled_from(users)
    codes = [
        {
            "id": c,
            "code": next(secrets),
            "client_id": draw(client),
            "user_id": draw(user),
            "redirect_uri": draw(TEXT),
            "code_challenge": draw(TEXT),
            "code_challenge_method": draw(st.sampled_from(["S256", "plain"])),
            "scope": draw(_maybe(TEXT)),
            "used": draw(BOOLEAN),
        }
        | _stamped(draw, "expires_at", "created_at")
        for c in _ids(draw, 2)
    ]
    tokens = [
        {
            "id": t,
            "access_token": next(secrets),
            "refresh_token": next(secrets) if draw(st.booleans()) else None,
            "client_id": draw(client),
            "user_id": draw(user),
            "scope": draw(_maybe(TEXT)),
            "refresh_expires_at": draw(_maybe(TIMESTAMP)),
            "revoked": draw(BOOLEAN),
        }
        | _stamped(draw, "expires_at", "created_at")
        for t in _ids(draw, 2)
    ]
    return {"oauth_clients": clients, "oauth_codes": codes, "oauth_tokens": tokens}


@st.composite
def _accounts(draw: st.DrawFn, items: list[int]) -> Tables:
    secrets = iter(draw(st.lists(TEXT.filter(bool), min_size=12, max_size=12, unique=True)))
    tables = _setups(draw, items) | _users(draw, secrets)
    tables |= _oauth(draw, [u["id"] for u in tables["users"]], secrets)
    keys = draw(st.lists(TEXT, unique=True, max_size=3))
    tables["settings"] = [{"key": k, "value": draw(TEXT)} for k in keys]
    return tables


@st.composite
def legacy_files(draw: st.DrawFn) -> tuple[str, Tables]:
    """A release and the rows of a valid legacy file of it."""
    tables = draw(_collection())
    tables |= draw(_accounts([i["id"] for i in tables["items"]]))
    return draw(st.sampled_from(legacy.RELEASES)), tables


def write(path: Path, release: str, tables: Tables) -> None:
    conn = legacy.create(path, release)
    with conn:
        for table in legacy.TABLES:
            legacy.insert(conn, table, tables.get(table, []))
    conn.close()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(legacy_files())
def test_any_valid_file_imports_value_for_value(
    tmp_path: Path, gearbox_connection: Connection, case: tuple[str, Tables]
) -> None:
    release, tables = case
    path = tmp_path / "hypothesis.db"
    write(path, release, tables)
    with isolated(gearbox_connection) as conn:
        result = import_sqlite(path, conn)
        assert not result.problems, [p.line() for p in result.problems]
        assert result.written
        assert_imported(expected(path), actual(conn))
