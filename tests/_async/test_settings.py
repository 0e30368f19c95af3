"""Settings repository: the same tests run against the async and the sync API."""

from __future__ import annotations

import pytest

from gearbox_db import AsyncDatabase, NotFoundError, ValidationError

HOSTILE = [
    "weightUnit",
    "Ω≈ç√ 🏕️ テント",
    "'; DROP TABLE settings; --",
    "  padded  ",
    "line\nbreak\r\n\u2028\u2029",
    "\u202eRTL\u200b\ufeff",
    "%s %(value)s {0} \\ $1 \\x00",
    '{"json": [1, 2.5, null]}',
    "e\u0301 vs \u00e9",  # not normalised: both forms stay distinct
    "\U0010ffff\ud7ff",
    "x" * 500,  # the longest key (a key is kept in a unique index)
]


async def test_set_then_get(db: AsyncDatabase) -> None:
    await db.settings.set("weightUnit", "g")
    assert await db.settings.get("weightUnit") == "g"


async def test_set_overwrites(db: AsyncDatabase) -> None:
    await db.settings.set("currency", "EUR")
    await db.settings.set("currency", "USD")
    assert await db.settings.get("currency") == "USD"
    assert (await db.settings.get_all())["currency"] == "USD"


async def test_get_all(db: AsyncDatabase) -> None:
    before = await db.settings.get_all()  # empty, unless a test left settings behind
    values = {"weightUnit": "oz", "currency": "CHF", "theme": ""}
    for key, value in values.items():
        await db.settings.set(key, value)
    assert await db.settings.get_all() == {**before, **values}


async def test_keys_are_case_sensitive(db: AsyncDatabase) -> None:
    await db.settings.set("theme", "dark")
    await db.settings.set("Theme", "light")
    assert (await db.settings.get("theme"), await db.settings.get("Theme")) == ("dark", "light")
    with pytest.raises(NotFoundError):
        await db.settings.get("THEME")


async def test_missing_key_is_not_found(db: AsyncDatabase) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        await db.settings.get("nope")


async def test_delete(db: AsyncDatabase) -> None:
    await db.settings.set("weightUnit", "kg")
    await db.settings.set("currency", "EUR")
    await db.settings.delete("weightUnit")
    with pytest.raises(NotFoundError):
        await db.settings.get("weightUnit")
    remaining = await db.settings.get_all()
    assert "weightUnit" not in remaining
    assert remaining["currency"] == "EUR"
    with pytest.raises(NotFoundError, match="weightUnit"):
        await db.settings.delete("weightUnit")


async def test_empty_value_is_allowed(db: AsyncDatabase) -> None:
    await db.settings.set("signature", "")
    assert await db.settings.get("signature") == ""
    await db.settings.set("blank", "   ")
    assert await db.settings.get("blank") == "   "


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_keys_and_values_round_trip(db: AsyncDatabase, text: str) -> None:
    await db.settings.set(text, text)
    await db.settings.set("plain", text)
    assert await db.settings.get(text) == text
    assert await db.settings.get("plain") == text
    assert (await db.settings.get_all())[text] == text
    await db.settings.delete(text)
    assert text not in await db.settings.get_all()


async def test_values_have_no_length_limit(db: AsyncDatabase) -> None:
    await db.settings.set("long", "x" * 100_000)
    assert await db.settings.get("long") == "x" * 100_000


@pytest.mark.parametrize("key", ["", " ", "\t\n", "a\x00b"])
async def test_bad_keys_are_refused(db: AsyncDatabase, key: str) -> None:
    before = await db.settings.get_all()
    with pytest.raises(ValidationError):
        await db.settings.set(key, "value")
    with pytest.raises(ValidationError):
        await db.settings.get(key)
    with pytest.raises(ValidationError):
        await db.settings.delete(key)
    assert await db.settings.get_all() == before


@pytest.mark.parametrize("value", ["\x00", "a\x00b", "\ud800"])
async def test_bad_values_are_refused(db: AsyncDatabase, value: str) -> None:
    await db.settings.set("kept", "old")
    with pytest.raises(ValidationError):
        await db.settings.set("kept", value)
    assert await db.settings.get("kept") == "old"


@pytest.mark.parametrize("value", [None, 1, b"bytes"])
async def test_values_must_be_text(db: AsyncDatabase, value: object) -> None:
    with pytest.raises(ValidationError):
        await db.settings.set("typed", value)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        await db.settings.get("typed")
