"""Deleting a category while another transaction holds one of its threads or items
and then writes into the category: the delete waits, it never deadlocks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import pytest

from gearbox_db import Database, Transaction


def _wait_until_blocked(url: str, failed: list[BaseException]) -> None:
    """Return once some backend waits for a lock (the delete); fail if it finished instead."""
    deadline = time.monotonic() + 30
    with psycopg.connect(url, autocommit=True) as watcher:
        while True:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()
            if row is not None and row[0] > 0:
                return
            assert not failed, failed
            assert time.monotonic() < deadline, "the delete never waited for a lock"


def _write_into(tx: Transaction, category_id: int, thread_id: int) -> None:
    tx.threads.add_candidate(thread_id, name="Late candidate", category_id=category_id)


def _resolve_into(tx: Transaction, category_id: int, thread_id: int) -> None:
    candidate = tx.threads.add_candidate(thread_id, name="Bought", category_id=category_id)
    tx.items.create(name="Spare stakes", category_id=category_id)
    tx.threads.resolve(thread_id, candidate.id)


@pytest.mark.parametrize("write", [_write_into, _resolve_into])
def test_delete_waits_for_a_writer_holding_a_thread_of_the_category(
    gearbox_database_url: str, write: Callable[[Transaction, int, int], None]
) -> None:
    with Database.connect(gearbox_database_url) as db:
        doomed = db.categories.create(name="Doomed")
        thread = db.threads.create(name="Which stakes?", category_id=doomed.id)
        failed: list[BaseException] = []

        def delete() -> None:
            try:
                db.categories.delete(doomed.id)
            except BaseException as exc:
                failed.append(exc)

        with db.transaction() as tx:
            tx.threads.update(thread.id, name="Which stakes, really?")  # holds the thread row
            deleter = threading.Thread(target=delete)
            deleter.start()
            _wait_until_blocked(gearbox_database_url, failed)
            write(tx, doomed.id, thread.id)  # references the category being deleted
        deleter.join(timeout=60)
        assert not deleter.is_alive()
        assert failed == []  # no deadlock, no failed delete
        uncategorized = db.categories.get_by_name("Uncategorized")
        detail = db.threads.get(thread.id)
        assert detail.thread.category_id == uncategorized.id
        assert {c.category_id for c in detail.candidates} == {uncategorized.id}
        assert all(item.category_id == uncategorized.id for item in db.items.list(limit=100).items)
