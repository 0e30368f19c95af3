"""Rows of a realistic legacy GearBox file (helpers of :mod:`gearbox_db.testing.legacy`).

Every table's rows come as dicts keyed by the column names of the newest
legacy release; the writer keeps the columns a file's release has. Sizes are
proportional to the number of items. Deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

import attrs

__all__ = ["HOSTILE_TEXTS", "RowMaker", "Sizes"]

Row = dict[str, Any]

_BRANDS: Final = (
    "Big Agnes", "Nemo", "Zpacks", "Hyperlite", "Sea to Summit", "Therm-a-Rest", "MSR",
    "Patagonia", "Arc'teryx", "Salomon", "Garmin", "Petzl", "Black Diamond", "Osprey",
    "Gossamer Gear", "Durston", "Enlightened Equipment", "Katadyn", "Jetboil", "Toaks",
)  # fmt: skip
_KINDS: Final = (
    "Tent", "Quilt", "Sleeping Pad", "Backpack", "Rain Jacket", "Headlamp", "Stove",
    "Pot", "Water Filter", "Trekking Poles", "Fleece", "Puffy", "Trail Runners", "Spork",
    "Bivy", "Tarp", "Stakes", "Power Bank", "Frame Bag", "Bottle",
)  # fmt: skip
_CATEGORIES: Final = (
    "Shelter", "Sleep System", "Packs", "Clothing", "Cooking", "Water", "Electronics",
    "Navigation", "First Aid", "Toiletries", "Bike Bags", "Food", "Footwear", "Tools",
)  # fmt: skip
_ICONS: Final = ("tent", "moon", "backpack", "shirt", "flame", "droplet", "battery", "package")
_NOTES: Final = (
    "Bought on sale.", "Replace the stuff sack.", "Seam-sealed in 2023.",
    "Runs small, size up.", "Great in wind, noisy in rain.", "Warranty until 2027.",
)  # fmt: skip
#: Valid text that trips naive COPY / CSV / JSON code (no NUL: that is a problem).
HOSTILE_TEXTS: Final = (
    "tab\there", "new\nline", "cr\rlf\r\n", "back\\slash", "\\N", "\\.", "NULL", "",
    " ", "quote's \"double\"", "🏕️ tent ⛺", "שלום עולם", "e\u0301", "zero\u200bwidth",
    "\ufeffbom", "line\u2028sep", "\x01\x1f\x7f", "\uffff\ufffe", "\U0001d518\U0001d52b\U0001d526",
    "x" * 3000, "1e309", "-0", "[\"json\"]", "%s %(x)s {}", "Robert'); DROP TABLE items;--",
)  # fmt: skip
_T0: Final = int(datetime(2019, 1, 1, tzinfo=UTC).timestamp())
_T1: Final = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())


@attrs.frozen
class Sizes:
    """Row counts of each table for ``items`` items."""

    items: int

    def of(self, table: str) -> int:
        """Number of rows of ``table``."""
        n = self.items
        sizes = {
            "categories": max(3, min(60, n // 50 + 3)),
            "threads": max(1, n // 13) if n else 0,
            "setups": max(1, n // 40) if n else 0,
            "users": max(1, n // 20000),
            "sessions": max(1, n // 16),
            "api_keys": max(1, n // 4000),
            "oauth_clients": 2 + n // 100000,
            "oauth_codes": max(1, n // 200),
            "oauth_tokens": max(1, n // 100),
        }
        return sizes.get(table, n)


@attrs.define
class RowMaker:
    """Makes the rows of every table; ``timestamps`` mixes encodings ``s``, ``ms``, ``iso``."""

    rng: random.Random
    sizes: Sizes
    hostile: bool = False
    timestamps: tuple[str, ...] = ("s",)
    uncategorized: bool = True
    _ids: dict[str, list[int]] = attrs.field(factory=dict)
    _candidates: list[Row] = attrs.field(factory=list)
    _client_ids: list[str] = attrs.field(factory=list)

    # -- values --------------------------------------------------------------

    def _id_run(self, table: str, count: int) -> list[int]:
        """``count`` ascending ids with a few gaps (deleted rows), remembered for references."""
        ids, next_id = [], 1
        for _ in range(count):
            ids.append(next_id)
            next_id += 2 if self.rng.random() < 0.02 else 1
        self._ids[table] = ids
        return ids

    def ids(self, table: str) -> list[int]:
        """Ids made so far for ``table``."""
        return self._ids.get(table, [])

    def text(self, plain: str) -> str:
        """``plain``, or now and then a hostile text when asked for."""
        if self.hostile and self.rng.random() < 0.3:
            return self.rng.choice(HOSTILE_TEXTS) + plain[:3]
        return plain

    def maybe(self, value: Any, chance: float = 0.5) -> Any:
        return value if self.rng.random() < chance else None

    def epoch(self) -> int:
        return self.rng.randrange(_T0, _T1)

    def stamp(self, seconds: int) -> int | float | str:
        """``seconds`` in one of the requested encodings."""
        kind = self.rng.choice(self.timestamps)
        if kind == "ms":
            return seconds * 1000 + self.rng.randrange(1000)
        if kind == "iso":
            moment = datetime.fromtimestamp(seconds, UTC)
            style = self.rng.randrange(4)
            if style == 0:
                return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
            if style == 1:
                return moment.strftime("%Y-%m-%d %H:%M:%S")
            if style == 2:
                micros = self.rng.randrange(1_000_000)
                return moment.replace(microsecond=micros).isoformat()
            return moment.astimezone(_tz(self.rng.randrange(-12, 14))).isoformat()
        return seconds

    def weight(self) -> float | None:
        grams = self.rng.choice((self.rng.randrange(1, 3000), self.rng.uniform(0.5, 2500)))
        return float(grams) if self.rng.random() < 0.9 else None

    def product(self) -> str:
        return f"{self.rng.choice(_BRANDS)} {self.rng.choice(_KINDS)} {self.rng.randrange(1, 99)}"

    def token(self, bits: int = 256) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    # -- tables --------------------------------------------------------------

    def categories(self) -> Iterator[Row]:
        for i, cid in enumerate(self._id_run("categories", self.sizes.of("categories"))):
            if i == 0 and self.uncategorized:
                name = "Uncategorized"
            else:
                name = self.text(_CATEGORIES[i % len(_CATEGORIES)]) + f" {cid}"
            icon = self.rng.choice(_ICONS)
            yield {"id": cid, "name": name, "icon": icon, "created_at": self.stamp(self.epoch())}

    def _gear(self, table: str, gid: int) -> Row:
        created = self.epoch()
        slug = f"{gid}-{self.rng.getrandbits(32):x}"
        return {
            "id": gid,
            "name": self.text(self.product()),
            "weight_grams": self.weight(),
            "price_cents": self.maybe(self.rng.randrange(0, 60000), 0.8),
            "category_id": self.rng.choice(self.ids("categories")),
            "notes": self.maybe(self.text(self.rng.choice(_NOTES)), 0.3),
            "product_url": self.maybe(f"https://shop.example/{table}/{slug}", 0.6),
            "image_filename": self.maybe(f"{slug}.jpg", 0.4),
            "image_source_url": self.maybe(f"https://img.example/{slug}.jpg", 0.2),
            "created_at": self.stamp(created),
            "updated_at": self.stamp(created + self.rng.randrange(0, 9_000_000)),
        }

    def items(self) -> Iterator[Row]:
        for iid in self._id_run("items", self.sizes.of("items")):
            row = self._gear("items", iid)
            row["quantity"] = self.rng.choice((1, 1, 1, 1, 2, 4))
            yield row

    def threads(self) -> Iterator[Row]:
        """Threads; a third resolved, each to one of its own candidates (made here too)."""
        candidate_ids = iter(range(1, 10**12))
        for tid in self._id_run("threads", self.sizes.of("threads")):
            created = self.epoch()
            mine = [self._candidate(next(candidate_ids), tid, k) for k in range(self._fanout())]
            self._candidates.extend(mine)
            resolved = bool(mine) and self.rng.random() < 0.33
            yield {
                "id": tid,
                "name": self.text(f"Which {self.rng.choice(_KINDS).lower()}?"),
                "status": "resolved" if resolved else "active",
                "resolved_candidate_id": self.rng.choice(mine)["id"] if resolved else None,
                "category_id": self.rng.choice(self.ids("categories")),
                "created_at": self.stamp(created),
                "updated_at": self.stamp(created + 86400),
            }

    def _fanout(self) -> int:
        return self.rng.choice((0, 1, 2, 3, 3, 4, 4, 5, 5))

    def _candidate(self, cid: int, tid: int, position: int) -> Row:
        row = self._gear("thread_candidates", cid)
        moved = self.rng.random() < 0.2
        row.update(
            thread_id=tid,
            status=self.rng.choice(("researching", "researching", "ordered", "arrived")),
            pros=self.maybe(self.text("light, packs small"), 0.4),
            cons=self.maybe(self.text("pricey"), 0.4),
            sort_order=position + self.rng.random() if moved else float(position),
        )
        return row

    def thread_candidates(self) -> Iterator[Row]:
        self._ids["thread_candidates"] = [row["id"] for row in self._candidates]
        yield from self._candidates

    def setups(self) -> Iterator[Row]:
        for sid in self._id_run("setups", self.sizes.of("setups")):
            created = self.epoch()
            name = self.text(f"{self.rng.choice(('PCT', 'GR20', 'Weekend', 'Tour'))} {sid}")
            yield {
                "id": sid,
                "name": name,
                "created_at": self.stamp(created),
                "updated_at": self.stamp(created + 3600),
            }

    def setup_items(self) -> Iterator[Row]:
        entry_id, items = 0, self.ids("items")
        for sid in self.ids("setups"):
            for iid in sorted(set(self.rng.sample(items, min(len(items), 6)))):
                entry_id += 1
                kind = self.rng.choice(("base", "base", "worn", "consumable"))
                yield {"id": entry_id, "setup_id": sid, "item_id": iid, "classification": kind}

    def users(self) -> Iterator[Row]:
        for uid in self._id_run("users", self.sizes.of("users")):
            salt, digest = self.token(128)[:22], self.token()[:43]
            yield {
                "id": uid,
                "username": self.text("hiker") + f"{uid}",
                "password_hash": f"$argon2id$v=19$m=65536,t=3,p=4${salt}${digest}",
                "created_at": self.stamp(self.epoch()),
            }

    def sessions(self) -> Iterator[Row]:
        for _ in range(self.sizes.of("sessions")):
            created = self.epoch()
            yield {
                "id": self.token(),
                "user_id": self.rng.choice(self.ids("users")),
                "expires_at": self.stamp(created + 30 * 86400),
                "created_at": self.stamp(created),
            }

    def api_keys(self) -> Iterator[Row]:
        for kid in self._id_run("api_keys", self.sizes.of("api_keys")):
            key = self.token()
            yield {
                "id": kid,
                "user_id": self.rng.choice(self.ids("users")),
                "name": self.text("laptop"),
                "key_hash": self.token(),
                "key_prefix": key[:8],
                "last_used_at": self.maybe(self.stamp(self.epoch())),
                "created_at": self.stamp(self.epoch()),
            }

    def oauth_clients(self) -> Iterator[Row]:
        for cid in self._id_run("oauth_clients", self.sizes.of("oauth_clients")):
            client_id = f"mcp-{self.token(64)[:16]}"
            self._client_ids.append(client_id)
            uris = [f"https://app{cid}.example/callback", "http://localhost:8765/cb"]
            yield {
                "id": cid,
                "client_id": client_id,
                "client_name": self.maybe(self.text("Claude")),
                "redirect_uris": json.dumps(uris[: 1 + cid % 2]),
                "created_at": self.stamp(self.epoch()),
            }

    def oauth_codes(self) -> Iterator[Row]:
        for cid in self._id_run("oauth_codes", self.sizes.of("oauth_codes")):
            created = self.epoch()
            yield {
                "id": cid,
                "code": self.token(),
                "client_id": self.rng.choice(self._client_ids),
                "user_id": self.rng.choice(self.ids("users")),
                "redirect_uri": "https://app1.example/callback",
                "code_challenge": self.token()[:43],
                "code_challenge_method": "S256",
                "scope": self.maybe("gear:read gear:write"),
                "expires_at": self.stamp(created + 600),
                "used": self.rng.choice((0, 1)),
                "created_at": self.stamp(created),
            }

    def oauth_tokens(self) -> Iterator[Row]:
        for tid in self._id_run("oauth_tokens", self.sizes.of("oauth_tokens")):
            created, refresh = self.epoch(), self.rng.random() < 0.7
            yield {
                "id": tid,
                "access_token": self.token(),
                "refresh_token": self.token() if refresh else None,
                "client_id": self.rng.choice(self._client_ids),
                "user_id": self.rng.choice(self.ids("users")),
                "scope": self.maybe("gear:read"),
                "expires_at": self.stamp(created + 3600),
                "refresh_expires_at": self.stamp(created + 30 * 86400) if refresh else None,
                "revoked": self.rng.choice((0, 0, 1)),
                "created_at": self.stamp(created),
            }

    def settings(self) -> Iterator[Row]:
        values = {"weightUnit": "g", "currency": "EUR", "theme": "dark", "onboarded": "true"}
        for key, value in values.items():
            yield {"key": key, "value": self.text(value)}


def _tz(hours: int) -> Any:
    from datetime import timedelta, timezone

    return timezone(timedelta(hours=hours))
