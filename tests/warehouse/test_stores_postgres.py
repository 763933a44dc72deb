"""The store layer on the suite's real PostgreSQL: connect, versioned schema, locks, masking."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from refiner_stores import StoreError
from refiner_stores.postgres import SessionLock, connect, migrate

STEPS = (
    "CREATE TABLE demo_items (id integer PRIMARY KEY); INSERT INTO demo_items VALUES (1)",
    lambda cursor: cursor.execute("ALTER TABLE demo_items ADD COLUMN name text"),
)


def test_migrate_creates_once_and_records_the_version(warehouse):
    with connect(warehouse.url, setting="test") as db:
        assert migrate(db, "demo", STEPS[:1]) == 0
        assert migrate(db, "demo", STEPS[:1]) == 1  # already there: nothing runs again
        assert migrate(db, "demo", STEPS) == 1  # only the new step runs
    assert warehouse.rows("SELECT id, name FROM demo_items") == [(1, None)]
    assert warehouse.rows("SELECT store, version FROM refiner_store_versions") == [("demo", 2)]


def test_processes_starting_together_create_the_schema_once(warehouse):
    found: list[int] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            with connect(warehouse.url, setting="test") as db:
                found.append(migrate(db, "demo", STEPS))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(found) == [0, 2, 2, 2, 2, 2]
    assert warehouse.scalar("SELECT count(*) FROM demo_items") == 1


def test_a_schema_newer_than_the_code_is_refused(warehouse):
    with connect(warehouse.url, setting="test") as db:
        migrate(db, "demo", STEPS)
        with pytest.raises(StoreError, match="schema version 2, newer than this refiner-singer"):
            migrate(db, "demo", STEPS[:1])


def test_a_session_lock_is_held_until_released_or_the_connection_ends(warehouse):
    first, second, third = (connect(warehouse.url, setting="test") for _ in range(3))
    try:
        holder = SessionLock(first, "ledger:demo")
        assert holder.try_acquire()
        assert not SessionLock(second, "ledger:demo").try_acquire()
        assert SessionLock(second, "ledger:other").try_acquire()  # names are independent
        holder.release()
        assert SessionLock(second, "ledger:demo").try_acquire()
        assert not SessionLock(third, "ledger:demo").try_acquire()
        second.close()  # a process that dies frees its lock with its connection
        # The server ends the closed session's backend on its own time: wait for it.
        deadline = time.monotonic() + 10
        while not SessionLock(third, "ledger:demo").try_acquire():
            assert time.monotonic() < deadline, "the lock outlived its connection"
            time.sleep(0.05)
    finally:
        for db in (first, second, third):
            db.close()


def test_connection_errors_name_the_setting_and_never_the_password(warehouse):
    wrong = warehouse.url.replace(warehouse.server.password, "not-the-password-9")
    with pytest.raises(StoreError) as info:
        connect(wrong, setting="Setting `pacing_url`")
    message = str(info.value)
    assert message.startswith("Cannot open Setting `pacing_url` postgresql://postgres:***@")
    assert "password authentication failed" in message
    assert "not-the-password-9" not in message


def test_the_connection_is_autocommit(warehouse):
    with connect(warehouse.url, setting="test") as db:
        db.execute("CREATE TABLE seen (n integer)")
        db.execute("INSERT INTO seen VALUES (1)")
        with psycopg.connect(warehouse.url) as other:
            assert other.execute("SELECT n FROM seen").fetchall() == [(1,)]
