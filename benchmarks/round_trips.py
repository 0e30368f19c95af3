"""Round trips and statements of one call of every repository method (issue 9).

A scratch database on the system PostgreSQL (``--url``, default
``$GEARBOX_BENCH_SYSTEM_URL``), migrated to head and dropped afterwards.
``Database.connect`` (the sync API; ``--async``: ``AsyncDatabase``) reaches it
through ``tests/wire.py``'s counting proxy. For each method: the
arguments are prepared (on a ``Database`` of their own that reaches the server
directly: not counted), one warm-up call is made, arguments are
prepared again, the counters are reset and the call is made once, on the
already-open pool. Printed: the round trips of that call (a round trip: the
client sends, then waits for the server's answer before sending again; a
pipelined batch is one), the statements the server received, read from the
wire by the proxy (each simple-protocol ``Query`` message and each
extended-protocol ``Execute``), their first words, and connections opened
during the call (a pool that opens one pays its startup too, not counted in
the round trips).

With ``--server-log FILE`` (the server's log, readable here) the scratch
database logs every statement (``log_statement = all``) and a last column
counts the statement lines its backends logged during the call: a check on
the count read from the wire.

    python benchmarks/round_trips.py [--url URL] [--server-log FILE] [--async]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from _common import SYSTEM_PG_URL, closed, load_average, machine, opened, scratch_database
from _server_log import ServerLog
from _world import PASSWORD, REDIRECT, World, pkce, unique
from tests.wire import RoundTripProxy

from gearbox_db import AsyncDatabase, Database

Case = tuple[str, Callable[[World], Any], Callable[[Any, Any], Any]]
#: The loop the async database's calls run on (``--async``).
_loop = asyncio.new_event_loop()


def done(result: Any) -> Any:
    """``result``, or what it gives when it is awaitable (a call of the async API)."""
    return _loop.run_until_complete(result) if inspect.isawaitable(result) else result


def _fixed(w: World) -> None:
    return None


def cases() -> Iterator[Case]:
    """(method, prepare its argument, call it) for every repository method."""
    yield from category_cases()
    yield from item_cases()
    yield from thread_cases()
    yield from setup_cases()
    yield from account_cases()
    yield from oauth_cases()


def category_cases() -> Iterator[Case]:
    """The categories repository."""
    yield "categories.list", _fixed, lambda db, _: db.categories.list()
    yield "categories.get", lambda w: w.category, lambda db, c: db.categories.get(c)
    yield "categories.get_by_name", _fixed, lambda db, _: db.categories.get_by_name("Shelter")
    yield "categories.uncategorized", _fixed, lambda db, _: db.categories.uncategorized()
    yield "categories.create", _fixed, lambda db, _: db.categories.create(name=unique("Cat"))
    yield (
        "categories.update",
        lambda w: w.category,
        lambda db, c: db.categories.update(c, icon=unique("icon")),
    )
    yield (
        "categories.delete (with 1 item)",
        lambda w: (
            w.db.items.create(
                name="x", category_id=w.db.categories.create(name=unique("Cat")).id
            ).category_id
        ),
        lambda db, c: db.categories.delete(c),
    )


def item_cases() -> Iterator[Case]:
    """The items repository."""
    yield (
        "items.create",
        lambda w: w.category,
        lambda db, c: db.items.create(name="Tent", category_id=c, weight_grams=1020.5),
    )
    yield "items.get", lambda w: w.items[0], lambda db, i: db.items.get(i)
    yield "items.list", _fixed, lambda db, _: db.items.list()
    yield (
        "items.list (search, include_total)",
        _fixed,
        lambda db, _: db.items.list(search="tent", include_total=True),
    )
    yield "items.update", lambda w: w.items[0], lambda db, i: db.items.update(i, quantity=2)
    yield "items.delete", lambda w: w.item(), lambda db, i: db.items.delete(i)
    yield "items.duplicate", lambda w: w.items[0], lambda db, i: db.items.duplicate(i)
    yield "items.totals", _fixed, lambda db, _: db.items.totals()


def thread_cases() -> Iterator[Case]:
    """The threads repository."""
    yield (
        "threads.create",
        lambda w: w.category,
        lambda db, c: db.threads.create(name="Which stove", category_id=c),
    )
    yield "threads.get", lambda w: w.thread[0], lambda db, t: db.threads.get(t)
    yield "threads.list", _fixed, lambda db, _: db.threads.list()
    yield (
        "threads.update",
        lambda w: w.thread[0],
        lambda db, t: db.threads.update(t, name=unique("Which tent")),
    )
    yield "threads.delete", lambda w: w.new_thread()[0], lambda db, t: db.threads.delete(t)
    yield (
        "threads.add_candidate",
        lambda w: w.thread[0],
        lambda db, t: db.threads.add_candidate(t, name="Notch"),
    )
    yield (
        "threads.update_candidate",
        lambda w: w.thread[1][0],
        lambda db, c: db.threads.update_candidate(c, pros=unique("light")),
    )
    yield (
        "threads.delete_candidate",
        lambda w: w.new_thread(candidates=1)[1][0],
        lambda db, c: db.threads.delete_candidate(c),
    )
    yield (
        "threads.move_candidate",
        lambda w: w.new_thread(candidates=3)[1],
        lambda db, c: db.threads.move_candidate(c[0], after=c[2]),
    )
    yield (
        "threads.resolve",
        lambda w: w.new_thread(candidates=1),
        lambda db, t: db.threads.resolve(t[0], t[1][0]),
    )
    yield (
        "threads.unresolve",
        lambda w: w.db.threads.resolve(*_first(w.new_thread(candidates=1))).thread.id,
        lambda db, t: db.threads.unresolve(t),
    )


def _first(thread: tuple[int, list[int]]) -> tuple[int, int]:
    return thread[0], thread[1][0]


def setup_cases() -> Iterator[Case]:
    """The setups repository."""
    yield "setups.create", _fixed, lambda db, _: db.setups.create(name="JMT")
    yield "setups.get", lambda w: w.setup, lambda db, s: db.setups.get(s)
    yield "setups.list", _fixed, lambda db, _: db.setups.list()
    yield "setups.totals", lambda w: w.setup, lambda db, s: db.setups.totals(s)
    yield "setups.rename", lambda w: w.setup, lambda db, s: db.setups.rename(s, name=unique("PCT"))
    yield (
        "setups.delete",
        lambda w: w.db.setups.create(name="x").id,
        lambda db, s: db.setups.delete(s),
    )
    yield (
        "setups.add_item",
        lambda w: (w.db.setups.create(name="x").id, w.items[0]),
        lambda db, a: db.setups.add_item(*a),
    )
    yield (
        "setups.remove_item",
        lambda w: w.setup_with_item(),
        lambda db, a: db.setups.remove_item(*a),
    )
    yield (
        "setups.set_classification",
        lambda w: w.setup_with_item(),
        lambda db, a: db.setups.set_classification(*a, classification="worn"),
    )
    yield (
        "setups.replace_items (2 entries)",
        lambda w: (w.setup, w.items),
        lambda db, a: db.setups.replace_items(a[0], {a[1][0]: "base", a[1][2]: "consumable"}),
    )


def account_cases() -> Iterator[Case]:
    """Settings, users, sessions and API keys."""
    yield "settings.get", _fixed, lambda db, _: db.settings.get("weightUnit")
    yield "settings.get_all", _fixed, lambda db, _: db.settings.get_all()
    yield "settings.set", _fixed, lambda db, _: db.settings.set("currency", unique("EUR"))
    yield (
        "settings.delete",
        lambda w: w.db.settings.set("gone", "x"),
        lambda db, _: db.settings.delete("gone"),
    )
    yield (
        "users.create (password_hash)",
        lambda w: w.hash,
        lambda db, h: db.users.create(username=unique("u"), password_hash=h),
    )
    yield "users.get", lambda w: w.user, lambda db, u: db.users.get(u)
    yield "users.get_by_username", _fixed, lambda db, _: db.users.get_by_username("hiker")
    yield (
        "users.verify_password",
        _fixed,
        lambda db, _: db.users.verify_password("hiker", PASSWORD),
    )
    yield (
        "users.change_password (password_hash)",
        lambda w: (w.user, w.hash),
        lambda db, a: db.users.change_password(a[0], password_hash=a[1]),
    )
    yield (
        "users.delete",
        lambda w: w.db.users.create(username=unique("u"), password_hash=w.hash).id,
        lambda db, u: db.users.delete(u),
    )
    yield from session_cases()


def session_cases() -> Iterator[Case]:
    """Sessions and API keys."""
    yield "sessions.create", lambda w: w.user, lambda db, u: db.sessions.create(u)
    yield "sessions.validate", lambda w: w.session, lambda db, t: db.sessions.validate(t)
    yield (
        "sessions.validate (sliding)",
        lambda w: w.session,
        lambda db, t: db.sessions.validate(t, renew_to=timedelta(days=30)),
    )
    yield (
        "sessions.delete",
        lambda w: w.db.sessions.create(w.user).token,
        lambda db, t: db.sessions.delete(t),
    )
    yield (
        "sessions.delete_all_for_user",
        lambda w: (w.user, w.db.sessions.create(w.user).token),
        lambda db, a: db.sessions.delete_all_for_user(a[0], keep=a[1]),
    )
    yield "sessions.purge_expired", _fixed, lambda db, _: db.sessions.purge_expired()
    yield (
        "api_keys.create",
        lambda w: w.user,
        lambda db, u: db.api_keys.create(u, name=unique("key")),
    )
    yield "api_keys.authenticate", lambda w: w.key, lambda db, k: db.api_keys.authenticate(k)
    yield "api_keys.list_for_user", lambda w: w.user, lambda db, u: db.api_keys.list_for_user(u)
    yield (
        "api_keys.delete",
        lambda w: w.db.api_keys.create(w.user, name="x").api_key.id,
        lambda db, k: db.api_keys.delete(k),
    )


def oauth_cases() -> Iterator[Case]:
    """The oauth repository."""
    yield (
        "oauth.register_client",
        _fixed,
        lambda db, _: db.oauth.register_client(
            unique("c").replace(" ", "-"), redirect_uris=[REDIRECT]
        ),
    )
    yield "oauth.get_client", _fixed, lambda db, _: db.oauth.get_client("mcp")
    yield (
        "oauth.issue_code",
        lambda w: (w.user, pkce()[1]),
        lambda db, a: db.oauth.issue_code("mcp", a[0], redirect_uri=REDIRECT, code_challenge=a[1]),
    )
    yield (
        "oauth.redeem_code",
        lambda w: w.code(),
        lambda db, a: db.oauth.redeem_code(
            a[0], client_id="mcp", redirect_uri=REDIRECT, code_verifier=a[1]
        ),
    )
    yield "oauth.issue_tokens", lambda w: w.user, lambda db, u: db.oauth.issue_tokens("mcp", u)
    yield (
        "oauth.validate_access",
        lambda w: w.db.oauth.issue_tokens("mcp", w.user).access_token,
        lambda db, t: db.oauth.validate_access(t),
    )
    yield (
        "oauth.refresh",
        lambda w: w.db.oauth.issue_tokens("mcp", w.user).refresh_token,
        lambda db, t: db.oauth.refresh(t, client_id="mcp"),
    )
    yield (
        "oauth.revoke",
        lambda w: w.db.oauth.issue_tokens("mcp", w.user).refresh_token,
        lambda db, t: db.oauth.revoke(t, client_id="mcp"),
    )
    yield (
        "oauth.revoke_client (1 token)",
        lambda w: w.client_with_tokens(),
        lambda db, c: db.oauth.revoke_client(c),
    )
    yield "oauth.purge_expired", _fixed, lambda db, _: db.oauth.purge_expired()


def first_words(statements: list[str]) -> str:
    """``BEGIN, SELECT, COMMIT``: each statement's first word (``;`` for an empty one)."""
    words = [(text.split() or [";"])[0].rstrip(";") or ";" for text in statements]
    return ", ".join(words)


def measure(
    db: Any, world: World, proxy: RoundTripProxy, log: ServerLog | None, case: Case
) -> list[str]:
    """One table row: a warm-up call, then the counted call."""
    name, prepare, call = case
    done(call(db, prepare(world)))
    argument = prepare(world)
    proxy.reset()
    if log is not None:
        log.mark()
    done(call(db, argument))
    with proxy.lock:
        trips, statements = proxy.round_trips, list(proxy.statements)
        opened = proxy.connections_opened
    found = [name, str(trips), str(len(statements)), first_words(statements), str(opened)]
    return found if log is None else [*found, str(log.statements())]


def markdown(headers: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def measure_all(url: str, log: ServerLog | None, *, use_async: bool) -> list[list[str]]:
    """Every case's row, on a database through the proxy (the rows the calls use are
    made on a ``Database`` of its own, directly)."""
    with Database.connect(url) as direct, RoundTripProxy(url) as proxy:
        world = World(direct)
        connect = AsyncDatabase.connect if use_async else Database.connect
        db = done(opened(connect(proxy.url)))
        try:
            return [measure(db, world, proxy, log, case) for case in cases()]
        finally:
            done(closed(db))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=SYSTEM_PG_URL, help="a server to make a scratch db on")
    parser.add_argument(
        "--server-log",
        type=Path,
        help="the server's log file (readable here): also count the statements it logs",
    )
    parser.add_argument(
        "--async", dest="use_async", action="store_true", help="measure AsyncDatabase"
    )
    args = parser.parse_args()
    print(machine())
    with scratch_database("gearbox_bench_round_trips", args.url) as url:
        log = ServerLog(args.server_log, args.url, url) if args.server_log else None
        try:
            rows = measure_all(url, log, use_async=args.use_async)
        finally:
            if log is not None:
                log.close()
    print(f"load average: {load_average()}")
    print(f"API: {'AsyncDatabase' if args.use_async else 'Database'}\n")
    headers = ["method", "round trips", "statements", "statements sent", "connections opened"]
    if args.server_log:
        headers.append("statements (server log)")
    print(markdown(headers, rows))
    print(
        "\nstatements: Query and Execute messages on the wire (counted by tests/wire.py); "
        "';' is an empty statement (a liveness probe)"
    )


if __name__ == "__main__":
    main()
