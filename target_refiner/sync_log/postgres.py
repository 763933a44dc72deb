"""The sync log in PostgreSQL: tables in the ``ledger_url`` database, beside the ledger's.

Schema: store ``sync_log`` of ``refiner_stores.postgres.migrate`` (``PG_MIGRATIONS``), the
store's identity the single row of ``refiner_sync_store``. Times are ``timestamptz``, JSON is
``jsonb``; every driver error is a :class:`refiner_stores.StoreError` with the URL masked.

Ordering across projects sharing the database: a changelog ``seq`` is an identity, handed out
at INSERT, not at COMMIT, so two writers could commit 8 before 7 and a reader polling
``seq > bookmark`` would skip 7 forever. Every write transaction therefore first takes the
advisory transaction lock :data:`WRITE_LOCK` (as the webhook store does) and holds it until
COMMIT: numbers are drawn only after every earlier writer committed. The runs table's ``seq``
is ``max(seq) + 1`` drawn under the same lock (no sequence: the lock already serialises it, and
``max + 1`` is what the SQLite backend does; retention keeps each project's newest run, so the
maximum never goes back). A batch is one transaction: the lock, one ``INSERT ... SELECT`` from
the batch's JSON array, one ``INSERT ... SELECT`` into the snapshot.
"""

from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from refiner_stores.postgres import lock_for_transaction, open_store, store_errors
from refiner_stores.sync_log import (
    CHANGE_COLUMNS,
    CHANGELOG,
    PG_MIGRATIONS,
    PG_STORE_TABLE,
    RUN_COLUMNS,
    RUNS,
    SNAPSHOT,
    STORE,
    WRITE_LOCK,
)
from target_refiner.sync_log.records import Change
from target_refiner.sync_log.sql import POSTGRES, SqlSyncLog, Statements, aware, batch_json

if TYPE_CHECKING:
    import datetime as dt
    import sqlite3
    from collections.abc import Iterator

    import psycopg

#: How errors name the database (``StoreError`` adds the masked URL).
SETTING = "Sync log (`ledger_url`)"
_LOGGED = ", ".join(CHANGE_COLUMNS[1:])
#: A file's snapshot row whose changelog rows retention dropped: kept, with a ``seq`` of ours.
_KEEP_SNAPSHOT_ROW = (
    f"INSERT INTO {SNAPSHOT} (seq, {_LOGGED}) VALUES"  # noqa: S608 - constant SQL
    f" (nextval(pg_get_serial_sequence('{CHANGELOG}', 'seq')), %s, %s, %s, %s, %s::jsonb,"
    " %s, %s, %s, %s, %s, %s) ON CONFLICT (project, stream, row_key) DO NOTHING"
)


class PostgresSyncLog(SqlSyncLog):
    """The sync log in the PostgreSQL database ``url``; one connection, thread-safe by a lock."""

    statements = Statements(POSTGRES)

    def __init__(self, url: str) -> None:
        """Connect, create or migrate the tables, read the store's identity."""
        self.url = url
        self._lock = threading.Lock()
        self._db = self._open()
        with store_errors(SETTING, url):
            row = self._db.execute(f"SELECT store_id FROM {PG_STORE_TABLE}").fetchone()  # noqa: S608 - constant
        self.store_id = str(row[0]) if row else ""

    def _open(self) -> psycopg.Connection[Any]:
        return open_store(self.url, setting=SETTING, store=STORE, steps=PG_MIGRATIONS)

    @contextmanager
    def _writing(self) -> Iterator[psycopg.Cursor[Any]]:
        """A transaction holding :data:`WRITE_LOCK` from its first statement to COMMIT."""
        with self._lock, store_errors(SETTING, self.url):
            if self._db.closed or self._db.broken:  # a lost connection: the next batch reopens
                self._db.close()
                self._db = self._open()
            with self._db.transaction(), self._db.cursor() as cursor:
                lock_for_transaction(cursor, WRITE_LOCK)
                yield cursor

    def _time(self, moment: dt.datetime) -> dt.datetime:
        return aware(moment)

    def copy_in(self, source: sqlite3.Connection) -> int:
        """Copy a SQLite ledger file's sync log in (``ledger/to_postgres.py``); rows copied.

        One transaction, under :data:`WRITE_LOCK`. Runs whose id is here already are skipped
        with their changes, so a second copy adds nothing. The rest take this store's ``seq``
        in the file's order (a tap reading this store reads them once); the snapshot is then
        made from them as a batch's is (the file's rows replace ours, as the ledger's do), and a
        file's snapshot row whose changes retention dropped is kept with a new ``seq``.
        """
        sql = self.statements
        with self._writing() as cursor:
            cursor.execute(f"SELECT run_id FROM {RUNS} UNION SELECT run_id FROM {CHANGELOG}")  # noqa: S608 - constant
            here = {row[0] for row in cursor.fetchall()}
            runs = source.execute(f"SELECT {', '.join(RUN_COLUMNS[1:])} FROM {RUNS} ORDER BY seq")  # noqa: S608 - constant
            for run in runs:
                if run[1] not in here:
                    cursor.execute(sql.upsert_run, run)
            changes = source.execute(f"SELECT {_LOGGED} FROM {CHANGELOG} ORDER BY seq")  # noqa: S608 - constant
            copied = 0
            with self._snapshot_of_appended(cursor):
                for (project, run_id, logged_at), rows in itertools.groupby(changes, _batch_of):
                    if run_id not in here:
                        batch = [Change(*row[3:]) for row in rows]
                        cursor.execute(
                            sql.insert_changes, (project, run_id, logged_at, batch_json(batch))
                        )
                        copied += len(batch)
            snapshot = source.execute(f"SELECT {_LOGGED} FROM {SNAPSHOT}")  # noqa: S608 - constant
            while chunk := snapshot.fetchmany(5000):
                cursor.executemany(_KEEP_SNAPSHOT_ROW, chunk)
        return copied

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()


def _batch_of(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A changelog row's batch: its project, run and time (a batch shares them)."""
    return row[:3]
