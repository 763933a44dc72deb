"""The PostgreSQL event store (``--store postgresql://...``): receiver and tap on any machines.

The same contract as the SQLite store (``store.py``): a 200 only after COMMIT (this session
commits with ``synchronous_commit = on`` whatever the server's default), one row per event with
redeliveries recognised by ``dedupe_key``, a ``store_id`` made with the store, rows read by
``seq``.

Ordering. ``seq`` is an identity column, and a sequence hands out numbers when rows are
inserted, not when they commit: two writers could commit 8 before 7, and a reader that saw 8
would move its bookmark past 7 forever. So every write transaction first takes one advisory
lock (``lock_for_transaction``, :data:`WRITE_LOCK`) and holds it until COMMIT: a writer draws
its numbers only after every earlier writer has committed, so ``seq`` values become visible in
increasing order however many receivers share the database. One receiver already writes from
one thread (``writer.py``, group commit), so the lock costs one statement per batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from refiner_stores.location import masked
from refiner_stores.postgres import (
    StoreError,
    lock_for_transaction,
    open_reader,
    open_store,
    store_errors,
)
from refiner_webhooks.store import COLUMNS, READ_BATCH, Stored, decoded, event_row, utc_now

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import psycopg

    from refiner_webhooks.event import WebhookEvent

STORE = "webhooks"
WRITE_LOCK = "refiner_webhook_events:write"
EVENTS = "refiner_webhook_events"
MIGRATIONS = (
    f"""
    CREATE TABLE {EVENTS} (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        dedupe_key text NOT NULL UNIQUE,
        received_at text NOT NULL,
        triggered_event text,
        contact_uuid text,
        remote_id text,
        email text,
        form_uuid text,
        response_uuid text,
        segment_uuids text NOT NULL DEFAULT '[]',
        payload text NOT NULL
    );
    CREATE TABLE refiner_webhook_meta (key text PRIMARY KEY, value text NOT NULL);
    INSERT INTO refiner_webhook_meta (key, value) VALUES ('store_id', gen_random_uuid()::text);
    CREATE TABLE refiner_webhook_health (
        id integer PRIMARY KEY CHECK (id = 1),
        checked_at text NOT NULL
    );
    """,  # noqa: S608 - constant SQL
)
INSERT = f"""
INSERT INTO {EVENTS} (dedupe_key, received_at, triggered_event, contact_uuid, remote_id, email,
                      form_uuid, response_uuid, segment_uuids, payload)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
RETURNING seq
"""  # noqa: S608 - constant SQL, values are parameters
STORE_ID = "SELECT value FROM refiner_webhook_meta WHERE key = 'store_id'"
SELECT_AFTER = f"SELECT {', '.join(COLUMNS)} FROM {EVENTS} WHERE seq > %s ORDER BY seq LIMIT %s"  # noqa: S608 - constant


class PostgresEventStore:
    """The writing side: one connection, used by the writer thread (see ``writer.py``)."""

    def __init__(self, url: str, *, setting: str = "--store") -> None:
        """Connect, create or migrate the schema, and read the store's identity."""
        self._url = url
        self._setting = setting
        self._db = self._open()
        with store_errors(setting, url):
            row = self._db.execute(STORE_ID).fetchone()
        self.store_id = str(row[0]) if row else ""

    def _open(self) -> psycopg.Connection[Any]:
        return open_store(
            self._url,
            setting=self._setting,
            store=STORE,
            steps=MIGRATIONS,
            session="SET synchronous_commit = on",  # a 200 promises the event is on disk
        )

    def _usable(self) -> psycopg.Connection[Any]:
        """The connection, reopened if the last one was lost (the failed batch got a 500)."""
        if self._db.closed or self._db.broken:
            self._db.close()
            self._db = self._open()
        return self._db

    def insert_many(self, events: Sequence[WebhookEvent]) -> list[Stored]:
        """Insert a batch in one transaction; return only after COMMIT (see the module doc)."""
        received_at = utc_now()
        keys = [event.dedupe_key for event in events]
        with store_errors(self._setting, self._url):
            db = self._usable()
            with db.transaction(), db.cursor() as cursor:
                lock_for_transaction(cursor, WRITE_LOCK)
                cursor.execute(
                    f"SELECT dedupe_key, seq FROM {EVENTS} WHERE dedupe_key = ANY(%s)",  # noqa: S608 - constant
                    (keys,),
                )
                seqs: dict[str, int] = {key: int(seq) for key, seq in cursor.fetchall()}
                known = set(seqs)
                fresh: dict[str, WebhookEvent] = {}
                for event in events:  # the first of several copies in one batch is stored
                    if event.dedupe_key not in known:
                        fresh.setdefault(event.dedupe_key, event)
                rows = [event_row(event, received_at) for event in fresh.values()]
                if rows:
                    cursor.executemany(INSERT, rows, returning=True)
                    for key in fresh:
                        seqs[key] = int(cursor.fetchone()[0])  # type: ignore[index]
                        cursor.nextset()
        first: set[str] = set()
        results = []
        for key in keys:
            results.append(Stored(seq=seqs[key], duplicate=key in known or key in first))
            first.add(key)
        return results

    def check(self) -> dict[str, Any]:
        """Prove the store is writable and readable (for ``/healthz``); return counts."""
        with store_errors(self._setting, self._url):
            db = self._usable()
            with db.transaction():
                db.execute(
                    "INSERT INTO refiner_webhook_health (id, checked_at) VALUES (1, %s)"
                    " ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                    (utc_now(),),
                )
                row = db.execute(f"SELECT count(*), max(seq) FROM {EVENTS}").fetchone()  # noqa: S608 - constant
        count, last_seq = row or (0, None)
        return {"events": count, "last_seq": last_seq}

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def _reader(url: str, setting: str) -> psycopg.Connection[Any]:
    """A read-only session; a database without the store is an error naming the receiver."""
    return open_reader(
        url, setting=setting, tables=(EVENTS,), absent=lambda _: _absent(setting, url)
    )


def _absent(setting: str, url: str) -> StoreError:
    """A known stop: one line, exit 1."""
    return StoreError(
        f"{setting} {masked(url)}: no webhook store there yet (no table {EVENTS}). "
        "Start the receiver once (`refiner-webhooks serve --store URL`) to create it."
    )


def read_store_id(url: str, *, setting: str) -> str | None:
    """The store's identity (``url`` is already masked in any error)."""
    db = _reader(url, setting)
    with db, store_errors(setting, url):
        row = db.execute(STORE_ID).fetchone()
    return str(row[0]) if row else None


def read_events(url: str, *, after_seq: int, setting: str) -> Iterator[dict[str, Any]]:
    """Events with ``seq > after_seq`` in ``seq`` order, in batches (one short query each)."""
    db = _reader(url, setting)
    with db:
        last = after_seq
        while True:
            with store_errors(setting, url):
                cursor = db.execute(SELECT_AFTER, (last, READ_BATCH))
                rows = cursor.fetchall()
            for row in rows:
                yield decoded(dict(zip(COLUMNS, row, strict=True)))
            if len(rows) < READ_BATCH:
                return
            last = rows[-1][0]
