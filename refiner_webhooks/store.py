"""The SQLite event store: received webhooks, one row each, in the order they were committed.

Durability: WAL journal with ``synchronous=FULL``, so a commit returns only after the WAL is
fsynced; the receiver answers 200 only after that commit. (``NORMAL`` would survive a killed
process too, since committed pages are already in the OS cache, but not a power cut.)

Ordering: exactly one connection writes (see ``writer.py``), so ``seq`` values become visible in
increasing order and a reader that remembers the last ``seq`` it saw never misses a row.

Identity: a store gets a random ``store_id`` (table ``meta``) when it is created, and a store
made by an older version gets one when the receiver next opens it. A reader's bookmark carries
the id, so a ``seq`` from another store (a recreated file restarts at 1) is never trusted.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from refiner_webhooks.event import WebhookEvent

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000
READ_BATCH = 500

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key TEXT NOT NULL UNIQUE,
    received_at TEXT NOT NULL,
    triggered_event TEXT,
    contact_uuid TEXT,
    remote_id TEXT,
    email TEXT,
    form_uuid TEXT,
    response_uuid TEXT,
    segment_uuids TEXT NOT NULL DEFAULT '[]',
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at TEXT NOT NULL
);
"""

COLUMNS = (
    "seq",
    "received_at",
    "triggered_event",
    "contact_uuid",
    "remote_id",
    "email",
    "form_uuid",
    "response_uuid",
    "segment_uuids",
    "payload",
)

INSERT = """
INSERT INTO events (dedupe_key, received_at, triggered_event, contact_uuid, remote_id, email,
                    form_uuid, response_uuid, segment_uuids, payload)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def utc_now() -> str:
    """Receipt time as ISO 8601 UTC with microseconds, the format Refiner's webhooks use."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_row(event: WebhookEvent, received_at: str) -> tuple[Any, ...]:
    """The values of ``INSERT`` (both stores' column order) for one event."""
    return (
        event.dedupe_key,
        received_at,
        event.triggered_event,
        event.contact_uuid,
        event.remote_id,
        event.email,
        event.form_uuid,
        event.response_uuid,
        json.dumps(event.segment_uuids),
        event.payload,
    )


def decoded(event: dict[str, Any]) -> dict[str, Any]:
    """A stored row (``COLUMNS``) with its JSON columns decoded, as readers hand it on."""
    event["segment_uuids"] = json.loads(event["segment_uuids"])
    event["payload"] = json.loads(event["payload"])
    return event


@dataclass(frozen=True)
class Stored:
    """Where an event ended up: its ``seq``, and whether this delivery was a duplicate."""

    seq: int
    duplicate: bool


class EventStore:
    """The writing side: one connection, used by one thread at a time (the writer's)."""

    def __init__(self, path: str | Path) -> None:
        """Create the file, its folder and the schema if needed; switch to WAL."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: the connection is opened on the main thread, then used only
        # by the writer thread (never concurrently).
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1e3
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)", (str(uuid.uuid4()),)
        )
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self.store_id = str(
            self._db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0]
        )

    def insert_many(self, events: Sequence[WebhookEvent]) -> list[Stored]:
        """Insert a batch in one transaction (one fsync); a duplicate keeps its first ``seq``.

        Returns only after COMMIT, so the caller may acknowledge every event of the batch.
        """
        received_at = utc_now()
        results: list[Stored] = []
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for event in events:
                # Look first rather than INSERT OR IGNORE: a refused insert would still use up
                # an AUTOINCREMENT value and leave gaps. This connection is the only writer,
                # so nothing can slip in between the look and the insert.
                existing = self._db.execute(
                    "SELECT seq FROM events WHERE dedupe_key = ?", (event.dedupe_key,)
                ).fetchone()
                if existing is not None:
                    results.append(Stored(seq=existing[0], duplicate=True))
                    continue
                cursor = self._db.execute(INSERT, event_row(event, received_at))
                results.append(Stored(seq=int(cursor.lastrowid or 0), duplicate=False))
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return results

    def pragma(self, name: str) -> Any:  # noqa: ANN401 - whatever SQLite answers
        """The value of ``PRAGMA name`` on the writing connection (for diagnostics and tests)."""
        if not name.isidentifier():
            msg = f"not a pragma name: {name!r}"
            raise ValueError(msg)
        return self._db.execute(f"PRAGMA {name}").fetchone()[0]

    def check(self) -> dict[str, Any]:
        """Prove the store is writable and readable (for ``/healthz``); return counts."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT INTO health (id, checked_at) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                (utc_now(),),
            )
            count, last_seq = self._db.execute("SELECT count(*), max(seq) FROM events").fetchone()
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return {"events": count, "last_seq": last_seq}

    def _rollback(self) -> None:
        # A failed COMMIT may already have ended the transaction.
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection (SQLite checkpoints the WAL when the last one closes)."""
        self._db.close()


def connect_read_only(path: str | Path) -> sqlite3.Connection:
    """Open the store read-only, so a reader can never modify or create it.

    Raises ``FileNotFoundError`` (with the path) when there is no store there.
    """
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        msg = f"No webhook store at {resolved}"
        raise FileNotFoundError(msg)
    db = sqlite3.connect(f"{resolved.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1e3)
    db.row_factory = sqlite3.Row
    return db


def read_store_id(path: str | Path) -> str | None:
    """The store's identity, or None for a store written by a version that had none."""
    with closing(connect_read_only(path)) as db:
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        except sqlite3.OperationalError:  # no meta table yet
            return None
    return None if row is None else str(row[0])


def read_events(path: str | Path, *, after_seq: int = 0) -> Iterator[dict[str, Any]]:
    """Yield stored events with ``seq > after_seq`` in ``seq`` order, JSON columns decoded.

    Reads in batches, one short read transaction each, so a long consumer never holds the WAL
    back from being checkpointed.
    """
    with closing(connect_read_only(path)) as db:
        last = after_seq
        while True:
            rows = db.execute(
                f"SELECT {', '.join(COLUMNS)} FROM events WHERE seq > ? ORDER BY seq LIMIT ?",  # noqa: S608 - constant column list
                (last, READ_BATCH),
            ).fetchall()
            for row in rows:
                yield decoded(dict(row))
            if len(rows) < READ_BATCH:
                return
            last = rows[-1]["seq"]
