"""Move a SQLite ledger into PostgreSQL.

``python -m target_refiner.ledger.to_postgres --from FILE --to URL``.

The file's Refiner project (its ``meta`` row; ``--project`` for a file that names none) keys the
rows, so the next run with ``ledger_url`` finds everything the file remembered and sends none of
it again. Copied under the project's ledger lock (no target may write it meanwhile), in one
transaction: an interrupted copy leaves nothing half-copied. Existing rows are overwritten by
the file's; the file itself is only read.

The file's sync log (its runs, changelog and snapshot) follows, in a second transaction under
the same lock (``PostgresSyncLog.copy_in``): the history stays with the ledger it describes. A
run already in the database is not copied again, so running the command twice copies it once.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import NamedTuple

from refiner_stores import StoreError, masked
from refiner_stores.postgres import store_errors
from refiner_stores.sync_log import RUNS
from target_refiner.errors import RunStoppedError
from target_refiner.ledger.postgres import (
    SETTING,
    UPSERT_ENTRY,
    UPSERT_LINK,
    PostgresLedger,
    take_postgres_ledger,
)
from target_refiner.ledger.sqlite import META_PROJECT, Ledger
from target_refiner.sync_log.postgres import PostgresSyncLog

#: A table of the sync log: a file without it has no sync log to copy.
_SYNC_LOG_TABLE = RUNS

#: Rows per executemany: a few round trips per hundred thousand rows, bounded memory.
COPY_CHUNK = 5000


def _project_of(path: Path, given: str | None) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE name=?", (META_PROJECT,)).fetchone()
    finally:
        conn.close()
    if row is None and not given:
        msg = f"The ledger {path} names no Refiner project: give it with --project UUID."
        raise RunStoppedError(msg)
    if row is not None and given and row[0] != given:
        msg = f"The ledger {path} belongs to Refiner project {row[0]}, not {given}."
        raise RunStoppedError(msg)
    return str(row[0]) if row is not None else str(given)


class Copied(NamedTuple):
    """What a copy moved."""

    entries: int  # ledger entries
    changes: int  # sync-log changelog rows


def copy_ledger(
    path: Path, url: str, project: str | None = None, wait_seconds: float = 0
) -> Copied:
    """Copy the file's entries, person links and sync log into ``url``."""
    if not path.is_file():
        msg = f"No ledger file at {path}."
        raise RunStoppedError(msg)
    Ledger(path).close()  # proves it readable (a damaged file stops here, with advice)
    name = _project_of(path, project)
    target, lock = take_postgres_ledger(url, name, wait_seconds=wait_seconds)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        entries = _copy_rows(source, target)
        return Copied(entries, _copy_sync_log(source, url))
    finally:
        source.close()
        target.close()
        lock.release()


def _copy_sync_log(source: sqlite3.Connection, url: str) -> int:
    found = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    if source.execute(found, (_SYNC_LOG_TABLE,)).fetchone() is None:
        return 0  # written before the sync log existed, or always with `sync_log: false`
    store = PostgresSyncLog(url)
    try:
        return store.copy_in(source)
    finally:
        store.close()


def _copy_rows(source: sqlite3.Connection, target: PostgresLedger) -> int:
    db = target._writer  # noqa: SLF001 - the copy is the ledger's own tool
    copied = 0
    with store_errors(SETTING, target.url), db.transaction(), db.cursor() as cursor:
        links = source.execute("SELECT identifier, person FROM person")
        while chunk := links.fetchmany(COPY_CHUNK):
            cursor.executemany(UPSERT_LINK, [(target.project, i, p) for i, p in chunk])
        entries = source.execute("SELECT kind, user_key, scope, hash FROM ledger")
        while chunk := entries.fetchmany(COPY_CHUNK):
            cursor.executemany(UPSERT_ENTRY, [(target.project, *row) for row in chunk])
            copied += len(chunk)
    return copied


def main(argv: list[str] | None = None) -> int:
    """The command line; a known stop is one line on stderr and exit code 1."""
    parser = argparse.ArgumentParser(
        prog="python -m target_refiner.ledger.to_postgres", description=__doc__
    )
    parser.add_argument("--from", dest="source", required=True, type=Path, help="ledger file")
    parser.add_argument("--to", dest="url", required=True, help="postgresql:// URL")
    parser.add_argument("--project", help="Refiner project uuid, for a file that names none")
    parser.add_argument("--wait-seconds", type=float, default=0, help="wait for a running target")
    args = parser.parse_args(argv)
    try:
        copied = copy_ledger(args.source, args.url, args.project, args.wait_seconds)
    except (RunStoppedError, StoreError) as exc:
        print(f"to_postgres: {exc}", file=sys.stderr)  # noqa: T201 - a command's answer
        return 1
    print(  # noqa: T201 - a command's answer
        f"Copied {copied.entries} ledger entries and {copied.changes} sync-log changes"
        f" from {args.source} to {masked(args.url)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
