"""The sync log's size per 100k logged rows, bounded by retention; the ledger's commits beside it.

1. Size: one run logs ``--rows`` changes (batches of 1,000, as the recorder would: a mix of
   unchanged, applied and rejected identify rows, each with a user id and an email) into a new
   ledger file; bytes once the WAL is checkpointed (``page_count * page_size`` + WAL), per
   100k rows. With ``--postgres``, the same into the suite's embedded PostgreSQL
   (``pg_total_relation_size`` of the three tables, after ``VACUUM``).
2. Bounded: ``--days`` daily runs re-log the same keys, each followed by ``prune`` of what came
   before that day (retention of zero days, the worst case): the size after each day. In
   PostgreSQL a ``VACUUM`` follows each prune (autovacuum's job on a real server).
3. Sharing the file: the ledger's commits (500 entries each, like the sender's committer) timed
   alone, then while another thread logs to the sync log in the same file: 500 rows after
   each commit (a recorder's pace), then as fast as it can (the worst case); last, the
   committing thread itself logging each commit's rows (commit and log timed together).

    .venv/bin/python bench/sync_log_size.py [--rows 100000] [--days 6] [--postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import queue
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.warehouse.postgres_server: the suite's PostgreSQL

from refiner_stores.sync_log import (  # noqa: E402
    APPLIED,
    IDENTIFY,
    REJECTED,
    TABLES,
    UNCHANGED,
)
from target_refiner.ledger.keys import LedgerKey, LedgerWrite  # noqa: E402
from target_refiner.ledger.sqlite import Ledger  # noqa: E402
from target_refiner.sync_log.records import Change, RunRecord  # noqa: E402
from target_refiner.sync_log.sqlite import SqliteSyncLog  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

    from target_refiner.sync_log.sql import SqlSyncLog

BATCH = 1000
DAY0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
PROJECT = "3c9d2a4e-5b1f-4e8a-9c7d-2f6b8e1a0d45"  # a Refiner project uuid, as the recorder logs


def change(n: int) -> Change:
    user = f"u{n:07d}"
    kind = n % 100
    if kind == 0:
        action, outcome, status, message = IDENTIFY, REJECTED, 422, "email: not a valid address"
    elif kind < 10:  # noqa: PLR2004 - one row in ten changed
        action, outcome, status, message = IDENTIFY, APPLIED, 200, None
    else:
        action, outcome, status, message = UNCHANGED, APPLIED, None, None
    key = json.dumps({"id": user}, separators=(",", ":"))
    return Change("users", key, user, f"{user}@example.com", action, outcome, status, message)


def log_day(store: SqlSyncLog, rows: int, day: int) -> float:
    """One run logging ``rows`` changes on day ``day``, then pruning what came before it."""
    at = DAY0 + dt.timedelta(days=day)
    run_id = f"{at:%Y%m%dT%H%M%SZ}-3fa2c1"  # deadletter.new_run_id's shape
    run = RunRecord(PROJECT, run_id, at, "f" * 64, "https://api.refiner.io/v1", "runner", 1)
    started = time.perf_counter()
    store.start_run(run)
    for first in range(0, rows, BATCH):
        store.log(run, [change(n) for n in range(first, min(first + BATCH, rows))], at)
    run.status, run.finished_at, run.exit_code = "finished", at, 0
    store.end_run(run)
    seconds = time.perf_counter() - started
    store.prune(PROJECT, at)
    return seconds


def sqlite_bytes(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    wal = path.with_name(path.name + "-wal")
    return pages * page_size + (wal.stat().st_size if wal.exists() else 0)


def sqlite_tables(path: Path) -> str:
    """Bytes per table with its indexes (``dbstat``), the sync log's tables only."""
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT tbl_name, SUM(pgsize) FROM dbstat JOIN sqlite_schema USING (name)"
            " GROUP BY tbl_name"
        ).fetchall()
    return ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in rows if name in TABLES)


def size_table(name: str, store: SqlSyncLog, size: Callable[[], int], rows: int, days: int) -> None:
    """Print the size after the first run (per 100k rows) and after each daily run."""
    empty = size()
    seconds = log_day(store, rows, 0)
    first = size()
    per_100k = (first - empty) * 100_000 / rows
    print(f"{name}: {rows} rows logged in {seconds:.2f}s ({rows / seconds:,.0f} rows/s)")
    print(f"{name}: {first - empty:,} bytes for {rows} rows = {per_100k:,.0f} bytes per 100k")
    sizes = [first]
    for day in range(1, days):
        log_day(store, rows, day)
        sizes.append(size())
    print(f"{name}: size after each day (MB): " + ", ".join(f"{s / 1e6:.1f}" for s in sizes))


ROUNDS = 200  # ledger commits of 500 entries per measurement


def commit_times(
    ledger: Ledger,
    offset: int,
    after: Callable[[int], None] = lambda _: None,
    *,
    timed_after: bool = False,
) -> list[float]:
    """Seconds each of :data:`ROUNDS` ledger commits of 500 new entries takes.

    ``after(first)`` runs after each commit, timed with it if ``timed_after``.
    """
    times = []
    for r in range(ROUNDS):
        first = offset + r * 500
        writes = [
            LedgerWrite(LedgerKey("identify", f"id:u{first + n}"), "h", "id:u") for n in range(500)
        ]
        started = time.perf_counter()
        ledger.commit(writes)
        if timed_after:
            after(first)
        times.append(time.perf_counter() - started)
        if not timed_after:
            after(first)
    return times


def serial(ledger: Ledger, store: SqliteSyncLog) -> list[float]:
    """The committer itself logs the 500 rows after each commit: no waiting on a lock."""
    run = RunRecord(PROJECT, "serial", DAY0, "f" * 64, "https://api.refiner.io/v1", "runner", 1)
    store.start_run(run)

    def log_batch(first: int) -> None:
        store.log(run, [change(n) for n in range(first, first + 500)], DAY0)

    return commit_times(ledger, 3_000_000, log_batch, timed_after=True)


def paced(ledger: Ledger, store: SqliteSyncLog) -> list[float]:
    """Another thread logs the 500 rows of each ledger commit, as a recorder would."""
    batches: queue.Queue[int | None] = queue.Queue()
    run = RunRecord(PROJECT, "paced", DAY0, "f" * 64, "https://api.refiner.io/v1", "runner", 1)
    store.start_run(run)

    def log_batches() -> None:
        while (first := batches.get()) is not None:
            store.log(run, [change(n) for n in range(first, first + 500)], DAY0)

    writer = threading.Thread(target=log_batches)
    writer.start()
    times = commit_times(ledger, 1_000_000, batches.put)
    batches.put(None)
    writer.join()
    return times


def flat_out(ledger: Ledger, store: SqliteSyncLog) -> list[float]:
    """Another thread logs (and prunes) as fast as it can: the worst case."""
    stop = threading.Event()

    def keep_logging() -> None:
        day = 1
        while not stop.is_set():
            log_day(store, 20_000, day)
            day += 1

    writer = threading.Thread(target=keep_logging)
    writer.start()
    times = commit_times(ledger, 2_000_000)
    stop.set()
    writer.join()
    return times


def sharing(tmp: Path) -> None:
    """The ledger's commit times alone and while the sync log is written in the same file."""
    path = tmp / "shared.sqlite"
    ledger = Ledger(path, project=PROJECT)
    store = SqliteSyncLog(path)
    cases = (
        ("alone", commit_times(ledger, 0)),
        ("sync log paced by the commits", paced(ledger, store)),
        ("sync log flat out", flat_out(ledger, store)),
        ("commit + log of its 500 rows, one thread", serial(ledger, store)),
    )
    store.close()
    ledger.close()
    print(f"| {ROUNDS} ledger commits of 500 entries | total s | median ms | p95 ms | max ms |")
    print("| --- | --- | --- | --- | --- |")
    for name, times in cases:
        ms = sorted(t * 1000 for t in times)
        p95 = ms[int(len(ms) * 0.95)]
        total = sum(times)
        print(f"| {name} | {total:.2f} | {statistics.median(ms):.1f} | {p95:.1f} | {ms[-1]:.1f} |")


def postgres(rows: int, days: int) -> None:
    from target_refiner.sync_log.postgres import PostgresSyncLog  # noqa: PLC0415
    from tests.warehouse.postgres_server import EmbeddedPostgres  # noqa: PLC0415

    with EmbeddedPostgres() as server:
        url = server.url("postgres")
        store = PostgresSyncLog(url)
        tables = ", ".join(f"'{t}'" for t in TABLES)

        def size() -> int:
            store._db.execute("VACUUM")  # noqa: SLF001 - the bench's own connection, autocommit
            row = store._db.execute(  # noqa: SLF001
                f"SELECT sum(pg_total_relation_size(t)) FROM unnest(ARRAY[{tables}]) AS t"  # noqa: S608
            ).fetchone()
            return int(row[0])

        size_table("PostgreSQL", store, size, rows, days)
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger-project-1.sqlite"
        Ledger(path, project=PROJECT).close()
        store = SqliteSyncLog(path)
        size_table("SQLite", store, lambda: sqlite_bytes(path), args.rows, args.days)
        print(f"SQLite after the last day: {sqlite_tables(path)}")
        store.close()
        sharing(Path(tmp))
    if args.postgres:
        postgres(args.rows, args.days)


if __name__ == "__main__":
    main()
