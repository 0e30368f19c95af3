"""The rows the benchmark calls use: one of each kind, and more made on demand."""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
from typing import Final

from gearbox_db import Database, passwords

REDIRECT: Final = "https://bench.example/cb"
PASSWORD: Final = "correct horse battery staple"  # noqa: S105 (a test password)
_names = itertools.count()


def unique(prefix: str) -> str:
    """A name no other call of this run used."""
    return f"{prefix} {next(_names)}"


def pkce() -> tuple[str, str]:
    """An S256 PKCE pair: (verifier, challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class World:
    """The rows the calls use, created once (and more on demand)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.hash = passwords.hash_password(PASSWORD)
        self.category = db.categories.create(name="Shelter").id
        self.items = [self.item() for _ in range(3)]
        self.setup = db.setups.create(name="PCT").id
        db.setups.replace_items(self.setup, {self.items[0]: "base", self.items[1]: "worn"})
        self.thread = self.new_thread(candidates=3)
        self.user = db.users.create(username="hiker", password_hash=self.hash).id
        self.session = db.sessions.create(self.user).token
        self.key = db.api_keys.create(self.user, name="script").key
        db.oauth.register_client("mcp", redirect_uris=[REDIRECT])
        db.settings.set("weightUnit", "g")

    def item(self) -> int:
        return self.db.items.create(name=unique("Tent"), category_id=self.category).id

    def new_thread(self, candidates: int = 0) -> tuple[int, list[int]]:
        thread = self.db.threads.create(name=unique("Which tent"), category_id=self.category).id
        added = [
            self.db.threads.add_candidate(thread, name=unique("Duplex")).id
            for _ in range(candidates)
        ]
        return thread, added

    def setup_with_item(self) -> tuple[int, int]:
        setup, item = self.db.setups.create(name=unique("Trip")).id, self.item()
        self.db.setups.add_item(setup, item)
        return setup, item

    def code(self) -> tuple[str, str]:
        verifier, challenge = pkce()
        code = self.db.oauth.issue_code(
            "mcp", self.user, redirect_uri=REDIRECT, code_challenge=challenge
        )
        return code, verifier

    def client_with_tokens(self) -> str:
        client = unique("client").replace(" ", "-")
        self.db.oauth.register_client(client, redirect_uris=[REDIRECT])
        self.db.oauth.issue_tokens(client, self.user)
        return client
