"""Property test of the account repositories (sync API; hypothesis cannot drive async tests).

A state machine drives users, sessions, API keys and OAuth (codes, PKCE,
rotation, reuse, revocation, purges, an advancing clock) against an in-memory
model, checking every result and, after every step, every row of the four
tables; and that no raw secret it ever handed out (token, key, code, verifier)
appears in any text or text[] column of any table (found generically through
information_schema). Hostile text: tests/test_accounts_text_properties.py.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy import Connection, select

from gearbox_db import AuthorizationError, ConflictError, Database, NotFoundError
from gearbox_db.records import IssuedTokens
from gearbox_db.schema import api_keys, oauth_codes, oauth_tokens, sessions
from gearbox_db.testing import isolated
from tests._sync._accounts import LEGACY_HASH, REDIRECT, FakeClock, pkce_pair
from tests.secret_scan import leaks, text_columns
from tests.stateful import completed_runs

tok, cod, ses = oauth_tokens.c, oauth_codes.c, sessions.c
ACCESS_TTL, REFRESH_TTL = timedelta(minutes=30), timedelta(hours=2)


def sha256(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def test_the_scan_finds_a_planted_secret(gearbox_connection: Connection) -> None:
    """The scan below can fail: a secret kept in clear, even in an array, is found."""
    with isolated(gearbox_connection) as connection:
        db = Database.from_connection(connection)
        columns = text_columns(connection)
        assert ("oauth_clients", "redirect_uris", True) in columns
        assert ("sessions", "token_hash", False) in columns
        secret = "planted_-" + "s" * 40
        db.oauth.register_client("c", redirect_uris=[f"https://a.example/{secret}"])
        db.categories.create(name=f"x{secret}y")
        assert sorted(leaks(connection, [secret, "other"])) == [
            "categories.name",
            "oauth_clients.redirect_uris",
        ]


@attrs.define
class Token:
    """The model of one oauth_tokens row."""

    user: int
    family: int
    access: str
    refresh: str
    expires: datetime
    refresh_expires: datetime
    revoked: bool = False


@attrs.define
class Code:
    """The model of one oauth_codes row."""

    user: int
    verifier: str
    expires: datetime
    used: bool = False


class AccountsMachine(RuleBasedStateMachine):
    """Users, sessions, API keys and OAuth against a model, with a clock moved by hand."""

    connection: ClassVar[Connection]

    def __init__(self) -> None:
        super().__init__()
        self._isolation: AbstractContextManager[Connection] = isolated(self.connection)
        self._isolation.__enter__()
        self.clock = FakeClock()
        self.db = Database.from_connection(self.connection, clock=self.clock)
        self.db.oauth.register_client("assistant", redirect_uris=[REDIRECT])
        self.columns = text_columns(self.connection)
        self.users: dict[int, str] = {}
        self.sessions: dict[str, tuple[int, datetime]] = {}
        self.keys: dict[str, tuple[int, int]] = {}  # raw key -> (key id, user)
        self.codes: dict[str, Code] = {}
        self.code_families: dict[str, int] = {}  # code -> the family it issued (survives purge)
        self.tokens: dict[int, Token] = {}
        self.ever: dict[str, list[str]] = defaultdict(list)  # raw secrets handed out, by kind

    def teardown(self) -> None:
        self._isolation.__exit__(None, None, None)

    def _pick(self, values: Iterable[Any], index: int) -> Any:
        ordered = sorted(values)
        return ordered[index % len(ordered)]

    @property
    def issued(self) -> list[str]:
        """Every raw secret handed out (tokens, keys, codes, verifiers)."""
        return [secret for secrets in self.ever.values() for secret in secrets]

    def _ever(self, index: int, stray: bool, kind: str) -> str:
        """A secret of ``kind`` ever issued (also deleted, purged, of a deleted user),
        or when ``stray`` any secret at all (the rule's precondition: there is one)."""
        pool = self.issued if stray else self.ever[kind]
        return str(pool[index % len(pool)])

    @property
    def now(self) -> datetime:
        return self.clock.current

    @initialize()
    def first_user(self) -> None:
        self.create_user("ann")

    @rule(name=st.sampled_from(["ann", "bob", "cy", "Ann"]))
    def create_user(self, name: str) -> None:
        if name in self.users.values():
            with pytest.raises(ConflictError):
                self.db.users.create(username=name, password_hash=LEGACY_HASH)
            return
        user = self.db.users.create(username=name, password_hash=LEGACY_HASH)
        self.users[user.id] = name

    @precondition(lambda self: self.users)
    @rule(index=st.integers(0, 99))
    def delete_user(self, index: int) -> None:
        user = self._pick(self.users, index)
        self.db.users.delete(user)
        del self.users[user]
        self.sessions = {t: s for t, s in self.sessions.items() if s[0] != user}
        self.keys = {k: v for k, v in self.keys.items() if v[1] != user}
        self.codes = {c: v for c, v in self.codes.items() if v.user != user}
        self.tokens = {i: t for i, t in self.tokens.items() if t.user != user}

    @precondition(lambda self: self.users)
    @rule(index=st.integers(0, 99), minutes=st.integers(1, 120))
    def create_session(self, index: int, minutes: int) -> None:
        user = self._pick(self.users, index)
        new = self.db.sessions.create(user, ttl=timedelta(minutes=minutes))
        assert new.session.expires_at == self.now + timedelta(minutes=minutes)
        self.sessions[new.token] = (user, new.session.expires_at)
        self.ever["session"].append(new.token)

    @precondition(lambda self: self.ever["session"])
    @rule(index=st.integers(0, 999), stray=st.booleans())
    def validate_session(self, index: int, stray: bool) -> None:
        token = self._ever(index, stray, "session")
        user, expires = self.sessions.get(token, (None, self.now))
        found = self.db.sessions.validate(token)
        assert (found.id if found else None) == (user if expires > self.now else None)

    @precondition(lambda self: self.ever["session"])
    @rule(index=st.integers(0, 999), stray=st.booleans())
    def delete_session(self, index: int, stray: bool) -> None:
        token = self._ever(index, stray, "session")
        assert self.db.sessions.delete(token) is (token in self.sessions)
        self.sessions.pop(token, None)

    @precondition(lambda self: self.users)
    @rule(index=st.integers(0, 99))
    def logout_everywhere(self, index: int) -> None:
        user = self._pick(self.users, index)
        mine = [t for t, (owner, _) in self.sessions.items() if owner == user]
        assert self.db.sessions.delete_all_for_user(user) == len(mine)
        for token in mine:
            del self.sessions[token]

    @precondition(lambda self: self.users)
    @rule(index=st.integers(0, 99))
    def create_key(self, index: int) -> None:
        user = self._pick(self.users, index)
        new = self.db.api_keys.create(user, name="key")
        assert new.api_key.key_prefix == new.key[:8]
        self.keys[new.key] = (new.api_key.id, user)
        self.ever["key"].append(new.key)

    @precondition(lambda self: self.ever["key"])
    @rule(index=st.integers(0, 999), stray=st.booleans())
    def authenticate(self, index: int, stray: bool) -> None:
        key = self._ever(index, stray, "key")
        found = self.db.api_keys.authenticate(key)
        assert (found.id if found else None) == self.keys.get(key, (None, None))[1]

    @precondition(lambda self: self.keys)
    @rule(index=st.integers(0, 99))
    def delete_key(self, index: int) -> None:
        key = self._pick(self.keys, index)
        key_id, _ = self.keys.pop(key)
        self.db.api_keys.delete(key_id)
        with pytest.raises(NotFoundError):
            self.db.api_keys.delete(key_id)

    @precondition(lambda self: self.users)
    @rule(index=st.integers(0, 99), redeem=st.booleans(), rotations=st.integers(0, 2))
    def issue_code(self, index: int, redeem: bool, rotations: int) -> None:
        """A code; with ``redeem`` also the rest of the flow and a few refreshes."""
        user = self._pick(self.users, index)
        verifier, challenge = pkce_pair()
        code = self.db.oauth.issue_code(
            "assistant", user, redirect_uri=REDIRECT, code_challenge=challenge
        )
        self.codes[code] = Code(user, verifier, self.now + timedelta(minutes=10), used=redeem)
        self.ever["code"].append(code)
        self.ever["verifier"].append(verifier)
        if redeem:
            issued = self._redeem(code, verifier)
            self._record(issued, user, issued.token.id)
            self.code_families[code] = issued.token.id
            for _ in range(rotations):
                self._refresh(self.ever["refresh"][-1])

    def _redeem(self, code: str, verifier: str) -> IssuedTokens:
        return self.db.oauth.redeem_code(
            code,
            client_id="assistant",
            redirect_uri=REDIRECT,
            code_verifier=verifier,
            access_ttl=ACCESS_TTL,
            refresh_ttl=REFRESH_TTL,
        )

    @precondition(lambda self: self.ever["code"])
    @rule(index=st.integers(0, 999), stray=st.booleans(), right=st.booleans())
    def redeem_code(self, index: int, stray: bool, right: bool) -> None:
        code = self._ever(index, stray, "code")
        model = self.codes.get(code)
        verifier = model.verifier if model and right else pkce_pair()[0]
        usable = model is not None and not model.used and model.expires > self.now
        if model is not None and usable:
            model.used = True
        try:
            issued = self._redeem(code, verifier)
        except AuthorizationError:
            assert not (usable and right)
            if not usable and code in self.code_families:  # a replay: the first redemption dies
                self._revoke_family(self.code_families[code])
            return
        assert model is not None
        assert usable
        assert right
        assert issued.token.family_id == issued.token.id
        self._record(issued, model.user, issued.token.id)
        self.code_families[code] = issued.token.id

    def _record(self, issued: IssuedTokens, user: int, family: int) -> None:
        assert issued.token.user_id == user
        self.tokens[issued.token.id] = Token(
            user,
            family,
            issued.access_token,
            issued.refresh_token,
            self.now + ACCESS_TTL,
            self.now + REFRESH_TTL,
        )
        self.ever["access"].append(issued.access_token)
        self.ever["refresh"].append(issued.refresh_token)

    def _by_secret(self, secret: str) -> Token | None:
        return next((t for t in self.tokens.values() if secret in (t.access, t.refresh)), None)

    def _revoke_family(self, family: int) -> int:
        live = [t for t in self.tokens.values() if t.family == family and not t.revoked]
        for token in live:
            token.revoked = True
        return len(live)

    @precondition(lambda self: self.ever["refresh"])
    @rule(index=st.integers(0, 999), stray=st.booleans())
    def refresh(self, index: int, stray: bool) -> None:
        self._refresh(self._ever(index, stray, "refresh"))

    def _refresh(self, secret: str) -> None:
        old = self._by_secret(secret)
        is_refresh = old is not None and old.refresh == secret
        try:
            issued = self.db.oauth.refresh(
                secret, client_id="assistant", access_ttl=ACCESS_TTL, refresh_ttl=REFRESH_TTL
            )
        except AuthorizationError:
            assert not (is_refresh and old and not old.revoked and old.refresh_expires > self.now)
            if is_refresh and old and old.revoked:
                self._revoke_family(old.family)  # reuse
            return
        assert old is not None
        assert is_refresh
        assert not old.revoked
        assert old.refresh_expires > self.now
        old.revoked = True
        assert issued.token.family_id == old.family
        self._record(issued, old.user, old.family)

    @precondition(lambda self: self.ever["access"])
    @rule(index=st.integers(0, 999), stray=st.booleans())
    def validate_access(self, index: int, stray: bool) -> None:
        secret = self._ever(index, stray, "access")
        model = self._by_secret(secret)
        grant = self.db.oauth.validate_access(secret)
        if model is None or model.access != secret or model.revoked or model.expires <= self.now:
            assert grant is None
        else:
            assert grant is not None
            assert grant.user.id == grant.token.user_id == model.user

    @precondition(lambda self: self.ever["access"])
    @rule(index=st.integers(0, 999), stray=st.booleans())
    def revoke(self, index: int, stray: bool) -> None:
        secret = self._ever(index, stray, "access" if index % 2 else "refresh")
        model = self._by_secret(secret)
        expected = self._revoke_family(model.family) if model else 0
        assert self.db.oauth.revoke(secret, client_id="assistant") is (expected > 0)

    @rule(minutes=st.integers(1, 240))  # past a session (<= 120 min) in one step, often
    def advance_clock(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    @rule()
    def purge(self) -> None:
        expired = [t for t, (_, expires) in self.sessions.items() if expires <= self.now]
        assert self.db.sessions.purge_expired() == len(expired)
        for token in expired:
            del self.sessions[token]
        codes = [c for c, model in self.codes.items() if model.expires <= self.now]
        tokens = [i for i, t in self.tokens.items() if t.refresh_expires <= self.now]
        assert self.db.oauth.purge_expired() == len(codes) + len(tokens)
        for code in codes:
            del self.codes[code]
        for token_id in tokens:
            del self.tokens[token_id]

    @invariant()
    def database_matches_model(self) -> None:
        """Every row of the four tables is the model's (revocations, uses, purges)."""

        def rows(*columns: Any) -> set[tuple[Any, ...]]:
            return {tuple(row) for row in self.connection.execute(select(*columns))}

        tokens = {(i, m.revoked, m.family, m.user) for i, m in self.tokens.items()}
        assert rows(tok.id, tok.revoked, tok.family_id, tok.user_id) == tokens
        codes = {(sha256(k), m.used, m.user) for k, m in self.codes.items()}
        assert rows(cod.code_hash, cod.used, cod.user_id) == codes
        sessions = {(sha256(k), u, e) for k, (u, e) in self.sessions.items()}
        assert rows(ses.token_hash, ses.user_id, ses.expires_at) == sessions
        assert rows(api_keys.c.id, api_keys.c.user_id) == set(self.keys.values())

    @invariant()
    def sessions_validate_exactly_until_they_expire(self) -> None:
        """Every session the model holds, expired ones included, validates as the model says."""
        for token, (user, expires) in self.sessions.items():
            found = self.db.sessions.validate(token)
            assert (found.id if found else None) == (user if expires > self.now else None)

    @invariant()
    def no_secret_at_rest(self) -> None:
        if self.issued:
            assert leaks(self.connection, self.issued, self.columns) == []


@pytest.fixture
def machine_connection(gearbox_connection: Connection) -> Connection:
    AccountsMachine.connection = gearbox_connection
    return gearbox_connection


def test_accounts_state_machine(machine_connection: Connection) -> None:
    run = settings(max_examples=10, stateful_step_count=30, deadline=None, database=None)
    assert completed_runs(AccountsMachine, run) > 0
