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

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from refiner_stores.postgres import lock_for_transaction, open_store, store_errors
from refiner_stores.sync_log import PG_MIGRATIONS, PG_STORE_TABLE, STORE, WRITE_LOCK
from target_refiner.sync_log.sql import POSTGRES, SqlSyncLog, Statements, aware

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterator

    import psycopg

#: How errors name the database (``StoreError`` adds the masked URL).
SETTING = "Sync log (`ledger_url`)"


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

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()
