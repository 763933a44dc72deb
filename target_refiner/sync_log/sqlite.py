"""The sync log in SQLite: tables in the project's ledger file, beside the ledger's own.

Same file, because the sync log is about the calls that file remembers: it moves, is backed up
and is dropped with the ledger, and a reader (tap-refiner's sync-log streams) needs one path.
The ledger's ``meta`` table holds the store's identity (:data:`META_STORE_ID`, a uuid4 made
once, with the tables).

Sharing the file with the ledger's connections, in one process and across processes: WAL (the
ledger's journal mode; readers never block the writer), ``synchronous=NORMAL`` like the ledger,
and a busy timeout, since the sender's committer thread writes the ledger at the same time. A
write here is one short ``BEGIN IMMEDIATE`` transaction (a whole batch of changes in one
statement), so the committer waits at most that long; ``bench/sync_log_size.py`` measures
the ledger's commit time with a sync log being written beside it.

Stored as: timestamps ISO 8601 UTC text with microseconds and ``Z``
(``2026-12-07T04:09:13.123456Z``: fixed width, so text order is time order and ``prune``
compares text); JSON as compact text. Errors are :class:`refiner_stores.StoreError` naming the
file.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING

from refiner_stores import StoreError
from refiner_stores.sync_log import META_STORE_ID, SQLITE_SCHEMA
from target_refiner.ledger.sqlite import SCHEMA as LEDGER_SCHEMA
from target_refiner.sync_log.sql import SQLITE, SqlSyncLog, Statements, aware

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: How long a write waits for the ledger's committer (or another process) to finish its own.
BUSY_TIMEOUT_MS = 10_000
#: The stored time format (see the module doc).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def iso_utc(moment: dt.datetime) -> str:
    """``moment`` (timezone-aware) as stored: ISO 8601 UTC, microseconds, ``Z``."""
    return aware(moment).astimezone(dt.timezone.utc).strftime(TIME_FORMAT)


class SqliteSyncLog(SqlSyncLog):
    """The sync log in the SQLite file ``path`` (the project's ledger file); thread-safe."""

    statements = Statements(SQLITE)

    def __init__(self, path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        """Open ``path``, create the tables and the store's identity if they are missing."""
        self.path = path
        self._lock = threading.Lock()
        with self._errors():
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                self.store_id = self._prepare(busy_timeout_ms)
            except BaseException:
                self._db.close()
                raise

    def _prepare(self, busy_timeout_ms: int) -> str:
        db = self._db
        db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(LEDGER_SCHEMA + SQLITE_SCHEMA)
        db.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)",
            (META_STORE_ID, str(uuid.uuid4())),
        )
        row = db.execute("SELECT value FROM meta WHERE name = ?", (META_STORE_ID,)).fetchone()
        return str(row[0])

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            msg = f"The sync log in {self.path} failed: {exc}"
            raise StoreError(msg) from exc

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Cursor]:
        """``BEGIN IMMEDIATE``: the file's write lock first, so ``seq`` is drawn in order."""
        with self._lock, self._errors():
            cursor = self._db.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def _time(self, moment: dt.datetime) -> str:
        return iso_utc(moment)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()
