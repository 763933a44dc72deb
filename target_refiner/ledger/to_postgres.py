"""Move a SQLite ledger into PostgreSQL.

``python -m target_refiner.ledger.to_postgres --from FILE --to URL``.

The file's Refiner project (its ``meta`` row; ``--project`` for a file that names none) keys the
rows, so the next run with ``ledger_url`` finds everything the file remembered and sends none of
it again. Copied under the project's ledger lock (no target may write it meanwhile), in one
transaction: an interrupted copy leaves nothing half-copied. Existing rows are overwritten by
the file's; the file itself is only read.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from refiner_stores import StoreError, masked
from refiner_stores.postgres import store_errors
from target_refiner.errors import RunStoppedError
from target_refiner.ledger.postgres import (
    SETTING,
    UPSERT_ENTRY,
    UPSERT_LINK,
    PostgresLedger,
    take_postgres_ledger,
)
from target_refiner.ledger.sqlite import META_PROJECT, Ledger

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


def copy_ledger(path: Path, url: str, project: str | None = None, wait_seconds: float = 0) -> int:
    """Copy the file's entries and person links into ``url``; return the entries copied."""
    if not path.is_file():
        msg = f"No ledger file at {path}."
        raise RunStoppedError(msg)
    Ledger(path).close()  # proves it readable (a damaged file stops here, with advice)
    name = _project_of(path, project)
    target, lock = take_postgres_ledger(url, name, wait_seconds=wait_seconds)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return _copy_rows(source, target)
    finally:
        source.close()
        target.close()
        lock.release()


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
    print(f"Copied {copied} ledger entries from {args.source} to {masked(args.url)}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
