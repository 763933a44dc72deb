"""Reading the sync log (``sync_log.py``'s tables) for tap-refiner: its identity, rows by ``seq``.

The tap never imports target-refiner, so the read side lives here, beside the tables'
definition. A store is a SQLite ledger file (opened read-only: a reader never creates or
changes it) or a ``postgresql://`` database (a read-only session). Rows come in ``seq`` order in
pages, one short query each, so a long extraction never holds a snapshot or the WAL back.

Rows are returned the same from both backends: JSON columns as objects, except ``row_key``,
which is a key of the tap's streams and so stays text, written one way (keys sorted) whatever
spelling the backend keeps; timestamps as timezone-aware UTC datetimes.

A location without a sync log (no file, a file or database without the tables: an older
target, or the wrong file) is a :class:`MissingSyncLogError`, a ``StoreError`` (a known stop)
naming the setting and the location, masked.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from refiner_stores.location import is_postgres, shown
from refiner_stores.postgres import StoreError, open_reader, store_errors
from refiner_stores.sync_log import (
    CHANGE_COLUMNS,
    CHANGELOG,
    META_STORE_ID,
    PG_STORE_TABLE,
    RUN_COLUMNS,
    RUNS,
    SNAPSHOT,
    SNAPSHOT_COLUMNS,
    TABLES,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from contextlib import AbstractContextManager

    import psycopg

READ_BATCH = 1000
BUSY_TIMEOUT_SECONDS = 10.0
COLUMNS: dict[str, Sequence[str]] = {
    RUNS: RUN_COLUMNS,
    CHANGELOG: CHANGE_COLUMNS,
    SNAPSHOT: SNAPSHOT_COLUMNS,
}
JSON_OBJECTS = ("streams", "mirror")
JSON_TEXT = ("row_key",)
TIMESTAMPS = ("started_at", "finished_at", "logged_at")
HOW_TO_CREATE = (
    "target-refiner creates it in its ledger's database when it runs: set the setting to the "
    "ledger file (`<state_dir>/ledger-project-<uuid>.sqlite`) or to target-refiner's "
    "`ledger_url`, or unset it to skip the sync-log streams"
)


class MissingSyncLogError(StoreError):
    """The location holds no sync log: no file, or no sync-log tables in it."""


def missing(setting: str, value: str, what: str) -> MissingSyncLogError:
    """The one-line stop for a location without a sync log."""
    return MissingSyncLogError(f"{setting} points at {shown(value)}, {what}; {HOW_TO_CREATE}.")


def read_store_id(value: str, *, setting: str) -> str | None:
    """The store's identity (None when it has none); the store must hold the sync log."""
    if is_postgres(value):
        db = _pg_reader(value, setting)
        with db, store_errors(setting, value):
            row = db.execute(f"SELECT store_id FROM {PG_STORE_TABLE}").fetchone()  # noqa: S608 - constant
    else:
        with closing(_sqlite_reader(value, setting)) as sqlite:
            try:
                row = sqlite.execute(
                    "SELECT value FROM meta WHERE name = ?", (META_STORE_ID,)
                ).fetchone()
            except sqlite3.OperationalError:  # no meta table: a store without an identity
                row = None
    return str(row[0]) if row else None


def read_rows(value: str, table: str, *, after_seq: int, setting: str) -> Iterator[dict[str, Any]]:
    """``table``'s rows with ``seq > after_seq`` in ``seq`` order, decoded (see the module doc)."""
    columns = COLUMNS[table]
    query = f"SELECT {', '.join(columns)} FROM {table} WHERE seq > {{}} ORDER BY seq LIMIT {{}}"  # noqa: S608 - constant names
    if is_postgres(value):
        db = _pg_reader(value, setting)
        with db:
            yield from _pages(
                lambda last: db.execute(query.format("%s", "%s"), (last, READ_BATCH)).fetchall(),
                columns,
                after_seq,
                lambda: store_errors(setting, value),
            )
    else:
        with closing(_sqlite_reader(value, setting)) as sqlite:
            yield from _pages(
                lambda last: sqlite.execute(query.format("?", "?"), (last, READ_BATCH)).fetchall(),
                columns,
                after_seq,
                lambda: _sqlite_errors(setting, value),
            )


def _pages(
    fetch: Callable[[int], list[Any]],
    columns: Sequence[str],
    after_seq: int,
    errors: Callable[[], AbstractContextManager[None]],
) -> Iterator[dict[str, Any]]:
    """Pages of rows after ``after_seq`` (``fetch(last)``), each fetched under ``errors()``."""
    last = after_seq
    while True:
        with errors():
            rows = fetch(last)
        for row in rows:
            yield decoded(dict(zip(columns, row, strict=True)))
        if len(rows) < READ_BATCH:
            return
        last = rows[-1][0]


def decoded(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the tap emits it, whichever backend it came from."""
    for name in JSON_OBJECTS:
        if isinstance(row.get(name), str):
            row[name] = json.loads(row[name])
    for name in JSON_TEXT:
        if name in row:
            found = json.loads(row[name]) if isinstance(row[name], str) else row[name]
            row[name] = json.dumps(found, sort_keys=True, ensure_ascii=False)
    for name in TIMESTAMPS:
        if row.get(name) is not None:
            row[name] = utc_time(row[name])
    return row


def utc_time(value: str | dt.datetime) -> dt.datetime:
    """A timestamp (SQLite's text or PostgreSQL's datetime; naive means UTC), aware in UTC."""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def _sqlite_reader(value: str, setting: str) -> sqlite3.Connection:
    """The ledger file opened read-only, after checking it holds the sync log."""
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise missing(setting, value, "which does not exist")
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    try:
        with _sqlite_errors(setting, value):
            found = {
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
    except BaseException:
        db.close()
        raise
    if not set(TABLES) <= found:
        db.close()
        raise missing(setting, value, f"which has no sync log (no table {RUNS})")
    return db


@contextmanager
def _sqlite_errors(setting: str, value: str) -> Iterator[None]:
    """Turn a SQLite error inside the block into a ``StoreError`` naming the file."""
    try:
        yield
    except sqlite3.Error as exc:
        msg = f"{setting} {shown(value)} cannot be read as a sync log: {exc}"
        raise StoreError(msg) from exc


def _pg_reader(url: str, setting: str) -> psycopg.Connection[Any]:
    """A read-only session; a database without the sync log is :class:`MissingSyncLogError`."""
    return open_reader(
        url,
        setting=setting,
        tables=(PG_STORE_TABLE, *TABLES),
        absent=lambda table: missing(setting, url, f"which has no sync log (no table {table})"),
    )
