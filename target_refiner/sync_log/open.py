"""Which sync-log backend a run writes: the one in its ledger's database, always.

The recorder calls :func:`open_sync_log` with the ledger the run took (``runtime.py``:
``_take_ledger`` opens the project's SQLite file under ``state_dir``, ``_take_postgres_ledger``
the ``ledger_url`` database), so the sync log can never sit apart from the ledger whose calls it
describes, and the choice is made once, where the ledger's is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from target_refiner.ledger.postgres import PostgresLedger
from target_refiner.ledger.sqlite import Ledger
from target_refiner.sync_log.postgres import PostgresSyncLog
from target_refiner.sync_log.sqlite import SqliteSyncLog

if TYPE_CHECKING:
    from target_refiner.ledger.keys import LedgerStore
    from target_refiner.sync_log.records import SyncLogStore


def open_sync_log(ledger: LedgerStore) -> SyncLogStore:
    """The sync log beside ``ledger``: its SQLite file, or its PostgreSQL database.

    Errors opening it are ``refiner_stores.StoreError`` (file or masked URL named).
    """
    if isinstance(ledger, PostgresLedger):
        return PostgresSyncLog(ledger.url)
    if isinstance(ledger, Ledger):
        return SqliteSyncLog(ledger.path)
    msg = f"no sync-log backend for a ledger of type {type(ledger).__name__}"
    raise TypeError(msg)
