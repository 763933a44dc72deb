"""The sync log in PostgreSQL (``ledger_url``): the backend contract on the suite's real server,
and seq in commit order when several projects write one database at once.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from contextlib import closing

import pytest

from refiner_stores import StoreError
from refiner_stores.location import masked
from refiner_stores.sync_log import APPLIED, REJECTED
from target_refiner.ledger.postgres import PostgresLedger
from target_refiner.sync_log.open import open_sync_log
from target_refiner.sync_log.postgres import PostgresSyncLog
from target_refiner.sync_log.sql import compact_json
from target_refiner.sync_log.sqlite import SqliteSyncLog, iso_utc
from tests.target.sync_log_contract import (
    SyncLogContract,
    change,
    day,
    ended,
    keys,
    run_record,
)

TABLES = ("refiner_sync_runs", "refiner_sync_changelog", "refiner_sync_snapshot")


def comparable(value: object) -> object:
    """jsonb and timestamptz as the SQLite backend keeps them: compact JSON, ISO ``Z`` text."""
    if isinstance(value, dict | list):
        return compact_json(value)
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    return value


class PostgresBackend:
    def __init__(self, warehouse) -> None:
        self.warehouse = warehouse

    def open(self) -> PostgresSyncLog:
        return PostgresSyncLog(self.warehouse.url)

    def rows(self, sql: str) -> list[tuple]:
        return [tuple(map(comparable, row)) for row in self.warehouse.rows(sql)]


@pytest.fixture
def backend(warehouse):
    return PostgresBackend(warehouse)


class TestPostgresSyncLog(SyncLogContract):
    def test_types_are_timestamptz_and_jsonb(self, backend, store):
        run = run_record("r1", day(0))
        store.start_run(run)
        store.log(run, [change(1)], day(0))
        assert backend.warehouse.rows(
            "SELECT pg_typeof(started_at)::text, pg_typeof(streams)::text FROM refiner_sync_runs"
        ) == [("timestamp with time zone", "jsonb")]
        assert backend.warehouse.rows(
            "SELECT row_key ->> 'id', logged_at = %s FROM refiner_sync_snapshot", day(0)
        ) == [("1", True)]


def test_errors_mask_the_password(postgres):
    url = postgres.url("no_such_database")
    with pytest.raises(StoreError) as caught:
        PostgresSyncLog(url)
    assert masked(url) in str(caught.value)
    assert postgres.password not in str(caught.value)


def test_two_projects_writing_at_once_keep_seq_in_commit_order(backend):
    """A reader polling ``seq > bookmark`` meanwhile sees every row of every table."""
    stores = [backend.open(), backend.open()]
    seen: dict[str, set[int]] = {table: set() for table in TABLES}
    errors: list[BaseException] = []

    def write(project: str, store: PostgresSyncLog) -> None:
        try:
            run = run_record(f"run-{project}", day(0), project=project)
            store.start_run(run)
            for batch in range(30):
                changes = [change(key) for key in range(batch * 50, batch * 50 + 200)]
                store.log(run, changes, day(0))
            store.end_run(ended(run, day(0)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(f"p{n}", s)) for n, s in enumerate(stores)]
    for writer in writers:
        writer.start()
    while any(writer.is_alive() for writer in writers):
        poll(backend, seen)
    poll(backend, seen)
    for store in stores:
        store.close()
    assert errors == []
    for table in TABLES:
        final = {row[0] for row in backend.rows(f"SELECT seq FROM {table}")}  # noqa: S608 - constant
        assert final <= seen[table], table
    assert backend.rows("SELECT COUNT(*) FROM refiner_sync_changelog") == [(2 * 30 * 200,)]


def poll(backend, seen: dict[str, set[int]]) -> None:
    """One reader's pass: each table's rows past its bookmark (the highest seq seen)."""
    for table in TABLES:
        bookmark = max(seen[table], default=0)
        rows = backend.rows(f"SELECT seq FROM {table} WHERE seq > {bookmark} ORDER BY seq")  # noqa: S608 - constant
        seen[table].update(row[0] for row in rows)


def test_open_sync_log_writes_in_the_ledger_database(warehouse):
    ledger = PostgresLedger(warehouse.url, "project-1")
    store = open_sync_log(ledger)
    try:
        assert isinstance(store, PostgresSyncLog)
        store.start_run(run_record("r1", day(0), project="project-1"))
    finally:
        store.close()
        ledger.close()
    assert warehouse.rows("SELECT project, run_id FROM refiner_sync_runs") == [("project-1", "r1")]
    assert warehouse.rows("SELECT store_id FROM refiner_sync_store") == [(store.store_id,)]


def test_copy_in_brings_a_files_log_once_after_what_is_here(backend, tmp_path):
    """``to_postgres``'s step: a file's runs and changes take new seqs, after this store's rows;
    a snapshot key whose changes retention dropped keeps its row; a second copy adds nothing.
    """
    path = tmp_path / "ledger.sqlite"
    file = SqliteSyncLog(path)
    first, last = run_record("r1", day(0)), run_record("r2", day(5))
    for run, changes in ((first, keys(3)), (last, [change(1, REJECTED, message="bad email")])):
        file.start_run(run)
        file.log(run, changes, run.started_at)
        file.end_run(ended(run, run.started_at + dt.timedelta(hours=1)))
    file.prune("p1", day(4))  # r1 and its changes go; the snapshot keeps keys 0, 1 and 2
    file.close()
    store = backend.open()
    try:
        here = run_record("o1", day(1), project="p2")
        store.start_run(here)
        store.log(here, keys(2), day(1))
        with closing(sqlite3.connect(path)) as source:
            assert store.copy_in(source) == 1
            assert store.copy_in(source) == 0
    finally:
        store.close()
    assert backend.rows("SELECT project, run_id FROM refiner_sync_runs ORDER BY seq") == [
        ("p2", "o1"),
        ("p1", "r2"),
    ]
    [(copied_seq, message)] = backend.rows(
        "SELECT seq, message FROM refiner_sync_changelog WHERE project = 'p1'"
    )
    assert message == "bad email"
    snapshot = backend.rows(
        "SELECT project, row_key, outcome, seq FROM refiner_sync_snapshot ORDER BY seq"
    )
    before = [(p, k, o) for p, k, o, _ in snapshot if p == "p2"]
    assert before == [("p2", '{"id":0}', APPLIED), ("p2", '{"id":1}', APPLIED)]
    mine = {k: (o, seq) for p, k, o, seq in snapshot if p == "p1"}
    assert mine['{"id":1}'] == (REJECTED, copied_seq)  # made from the copied change
    assert {k: o for k, (o, _) in mine.items()} == {
        '{"id":0}': APPLIED,
        '{"id":1}': REJECTED,
        '{"id":2}': APPLIED,
    }
    assert len({seq for *_, seq in snapshot}) == len(snapshot) == 5
    assert min(seq for _, seq in mine.values()) > max(seq for p, _, _, seq in snapshot if p == "p2")
