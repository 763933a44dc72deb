"""The sync log in SQLite: the backend contract, the ledger's file shared, a bounded file."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing

import pytest

from refiner_stores.sync_log import META_STORE_ID
from target_refiner.ledger.keys import LedgerKey, LedgerWrite
from target_refiner.ledger.sqlite import Ledger, project_ledger_path
from target_refiner.sync_log.open import open_sync_log
from target_refiner.sync_log.sqlite import SqliteSyncLog
from tests.target.sync_log_contract import SyncLogContract, day, ended, keys, run_record


class SqliteBackend:
    def __init__(self, path) -> None:
        self.path = path

    def open(self) -> SqliteSyncLog:
        return SqliteSyncLog(self.path)

    def rows(self, sql: str) -> list[tuple]:
        with closing(sqlite3.connect(self.path)) as db:
            return db.execute(sql).fetchall()

    def size(self) -> int:
        """Bytes the store takes once the WAL is checkpointed into the file."""
        with closing(sqlite3.connect(self.path)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            page_size = db.execute("PRAGMA page_size").fetchone()[0]
        wal = self.path.with_name(self.path.name + "-wal")
        return pages * page_size + (wal.stat().st_size if wal.exists() else 0)


@pytest.fixture
def backend(tmp_path):
    return SqliteBackend(project_ledger_path(tmp_path, "project-1"))


class TestSqliteSyncLog(SyncLogContract):
    pass


def test_lives_in_the_ledger_file_beside_the_ledger(backend):
    ledger = Ledger(backend.path, project="project-1")
    store = backend.open()
    try:
        ledger.commit([LedgerWrite(LedgerKey("identify", "id:u1"), "h1", "id:u1")])
        run = run_record("r1", day(0))
        store.start_run(run)
        store.log(run, keys(3), day(0))
    finally:
        store.close()
    assert ledger.lookup(LedgerKey("identify", "id:u1")) == "h1"
    ledger.close()
    assert Ledger(backend.path, project="project-1").count() == 1  # still the project's ledger
    meta = dict(backend.rows("SELECT name, value FROM meta"))
    assert meta == {"project_uuid": "project-1", META_STORE_ID: store.store_id}
    assert backend.rows("SELECT COUNT(*) FROM refiner_sync_snapshot") == [(3,)]


def test_logging_while_the_ledger_commits_loses_nothing(backend):
    """The sender's committer writes the ledger while the sync log is written: both wait."""
    ledger = Ledger(backend.path, project="project-1")
    store = backend.open()
    errors: list[BaseException] = []

    def commit_ledger() -> None:
        try:
            for n in range(200):
                key = LedgerKey("identify", f"id:u{n}")
                ledger.commit([LedgerWrite(key, "h", f"id:u{n}")])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    committer = threading.Thread(target=commit_ledger)
    committer.start()
    run = run_record("r1", day(0))
    store.start_run(run)
    for _ in range(20):
        store.log(run, keys(500), day(0))
    store.end_run(ended(run, day(0)))
    committer.join()
    store.close()
    ledger.close()
    assert errors == []
    assert backend.rows("SELECT COUNT(*) FROM ledger") == [(200,)]
    assert backend.rows("SELECT COUNT(*) FROM refiner_sync_changelog") == [(20 * 500,)]


def test_the_file_stops_growing_when_prune_keeps_pace(backend):
    """Re-logging the same keys every day and pruning the day before keeps the file's size."""
    store = backend.open()
    sizes = [backend.size()]
    for n in range(24):
        run = run_record(f"r{n}", day(n))
        store.start_run(run)
        for _ in range(2):
            store.log(run, keys(1000), day(n))
        store.end_run(ended(run, day(n)))
        store.prune("p1", day(n))
        sizes.append(backend.size())
    store.close()
    assert backend.rows("SELECT COUNT(*) FROM refiner_sync_changelog") == [(2000,)]
    assert backend.rows("SELECT run_id FROM refiner_sync_runs") == [("r23",)]
    # Pages freed by prune are reused: over the last 12 days the file grew by less than a
    # tenth of what one day's log takes (only seq's varints lengthen).
    one_day = sizes[1] - sizes[0]
    assert sizes[-1] - sizes[12] < one_day / 10, sizes


def test_open_sync_log_writes_in_the_ledger_file(backend):
    ledger = Ledger(backend.path, project="project-1")
    store = open_sync_log(ledger)
    try:
        assert isinstance(store, SqliteSyncLog)
        store.start_run(run_record("r1", day(0)))
    finally:
        store.close()
        ledger.close()
    assert backend.rows("SELECT run_id FROM refiner_sync_runs") == [("r1",)]
