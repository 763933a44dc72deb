"""The ledger in PostgreSQL (``ledger_url``): a runner with a fresh disk keeps what was sent.

The same meaning as the SQLite ledger (``keys.py`` owns the vocabulary: kinds, hashes, keys),
in tables of their own, every row carrying the Refiner project it remembers, so one database
serves several projects:

- ``refiner_ledger(project, kind, user_key, scope, hash)``: the SQLite ``ledger`` table;
- ``refiner_ledger_person(project, identifier, person)``: the SQLite ``person`` table;
- ``refiner_ledger_holders(project, host, pid, started_at)``: who holds the project's lock.

The schema is created on first use and versioned (``refiner_stores.postgres.migrate``, store
``ledger``). Lookups are batched (``= ANY(%s)``, thousands of keys per query); a commit sends
its statements in one pipeline and returns only after COMMIT with ``synchronous_commit = on``:
a row is acknowledged only once its entry is durable, so a kill -9 (or a lost database)
repeats at most the calls in flight. Any driver error is a :class:`StoreError`, a known stop.

One writer per project: :class:`PostgresLedgerLock` is a session advisory lock on a connection
of its own, released when the process or that connection dies, so a killed run never leaves
the ledger locked; a second target refuses naming the holder, or waits ``ledger_wait_seconds``.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections import defaultdict
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from refiner_stores.location import masked
from refiner_stores.postgres import SessionLock, connect, open_store, store_errors
from target_refiner.ledger.keys import (
    LEDGER_DELETED,
    LEDGER_IDENTIFY,
    LEDGER_SEGMENT,
    NOT_MEMBER,
    LedgerKey,
    LedgerWrite,
    verdict,
)
from target_refiner.ledger.lock import POLL_SECONDS, LedgerInUseError, busy_message

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Sequence

    import psycopg

SETTING = "Setting `ledger_url`"
STORE = "ledger"
ENTRIES = "refiner_ledger"
PEOPLE = "refiner_ledger_person"
HOLDERS = "refiner_ledger_holders"
#: Keys per lookup query: ``= ANY`` takes one array parameter, so a batch is one round trip.
PG_LOOKUP_CHUNK = 10_000
MIGRATIONS = (
    f"""
    CREATE TABLE {ENTRIES} (
        project text NOT NULL,
        kind text NOT NULL,
        user_key text NOT NULL,
        scope text NOT NULL,
        hash text NOT NULL,
        PRIMARY KEY (project, kind, scope, user_key)
    );
    CREATE TABLE {PEOPLE} (
        project text NOT NULL,
        identifier text NOT NULL,
        person text NOT NULL,
        PRIMARY KEY (project, identifier)
    );
    CREATE INDEX {PEOPLE}_person ON {PEOPLE} (project, person);
    CREATE TABLE {HOLDERS} (
        project text PRIMARY KEY,
        host text NOT NULL,
        pid integer NOT NULL,
        started_at text NOT NULL
    );
    """,
)
UPSERT_LINK = (
    f"INSERT INTO {PEOPLE} (project, identifier, person) VALUES (%s, %s, %s)"  # noqa: S608 - constant
    " ON CONFLICT (project, identifier) DO UPDATE SET person = excluded.person"
)
UPSERT_ENTRY = (
    f"INSERT INTO {ENTRIES} (project, kind, user_key, scope, hash)"  # noqa: S608 - constant
    " VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT (project, kind, scope, user_key) DO UPDATE SET hash = excluded.hash"
)
FORGET_KINDS = f"DELETE FROM {ENTRIES} WHERE project = %s AND kind = ANY(%s) AND user_key = %s"  # noqa: S608 - constant
UNDELETE = (
    f"DELETE FROM {ENTRIES} WHERE project = %s AND kind = %s AND scope = '' AND user_key = %s"  # noqa: S608 - constant
)
Statement = tuple[str, tuple[Any, ...]]


def open_ledger_db(url: str) -> psycopg.Connection[Any]:
    """A connection with the ledger's schema current; commits wait for the disk."""
    return open_store(
        url, setting=SETTING, store=STORE, steps=MIGRATIONS, session="SET synchronous_commit = on"
    )


def _write_statements(project: str, write: LedgerWrite) -> list[Statement]:
    """The statements of one acknowledged call, in the order the SQLite ledger applies them."""
    out: list[Statement] = [(UPSERT_LINK, (project, i, p)) for i, p in write.links]
    key = write.key
    if key is None:
        return out
    if key.kind == LEDGER_DELETED:
        out.append((FORGET_KINDS, (project, [LEDGER_IDENTIFY, LEDGER_SEGMENT], key.user_key)))
    elif write.hash != NOT_MEMBER:  # identify, track and segment add (re)create the contact
        out.append((UNDELETE, (project, LEDGER_DELETED, write.user_key)))
    out.append((UPSERT_ENTRY, (project, key.kind, key.user_key, key.scope, write.hash)))
    return out


class PostgresLedger:
    """The ledger interface of ``ledger.Ledger`` on PostgreSQL, for one Refiner project."""

    def __init__(self, url: str, project: str) -> None:
        """Open (and create or migrate) the schema; nothing of the ledger is read yet."""
        self.url = url
        self.path = masked(url)  # what messages call the ledger
        self.project = project
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._reader = open_ledger_db(url)
        try:
            self._writer = connect(url, setting=SETTING)
            with store_errors(SETTING, url):
                self._writer.execute("SET synchronous_commit = on")
        except BaseException:
            self._reader.close()
            raise

    def _query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._read_lock, store_errors(SETTING, self.url):
            return self._reader.execute(sql, params).fetchall()

    def lookup(self, key: LedgerKey) -> str | None:
        """The remembered hash for ``key``, or None."""
        return self.lookup_entries([key]).get(key)

    def is_unchanged(self, key: LedgerKey, payload_hash: str) -> bool:
        """True when Refiner already acknowledged exactly this (so the call can be skipped)."""
        return self.lookup(key) == payload_hash

    def already_done(self, key: LedgerKey | None, payload_hash: str) -> str | None:
        """``"skipped"`` (unchanged), ``"replayed"`` (event already sent) or None (send it)."""
        return verdict(key, None if key is None else self.lookup(key), payload_hash)

    def lookup_people(self, identifiers: Collection[str]) -> dict[str, str]:
        """Identifier -> person key for those of ``identifiers`` the ledger links."""
        found: dict[str, str] = {}
        wanted = sorted(set(identifiers))
        for start in range(0, len(wanted), PG_LOOKUP_CHUNK):
            rows = self._query(
                f"SELECT identifier, person FROM {PEOPLE}"  # noqa: S608 - constant
                " WHERE project = %s AND identifier = ANY(%s)",
                (self.project, wanted[start : start + PG_LOOKUP_CHUNK]),
            )
            found.update((str(i), str(p)) for i, p in rows)
        return found

    def lookup_entries(self, keys: Collection[LedgerKey]) -> dict[LedgerKey, str]:
        """The remembered hash of each of ``keys`` the ledger holds; one query per kind/scope."""
        groups: dict[tuple[str, str], set[str]] = defaultdict(set)
        for kind, user_key, scope in keys:
            groups[kind, scope].add(user_key)
        found: dict[LedgerKey, str] = {}
        for (kind, scope), user_keys in groups.items():
            wanted = sorted(user_keys)
            for start in range(0, len(wanted), PG_LOOKUP_CHUNK):
                rows = self._query(
                    f"SELECT user_key, hash FROM {ENTRIES}"  # noqa: S608 - constant
                    " WHERE project = %s AND kind = %s AND scope = %s AND user_key = ANY(%s)",
                    (self.project, kind, scope, wanted[start : start + PG_LOOKUP_CHUNK]),
                )
                found.update((LedgerKey(kind, str(u), scope), str(h)) for u, h in rows)
        return found

    def _run(self, statements: list[Statement]) -> None:
        """Run ``statements`` in order in one transaction, sent as one pipeline; wait for COMMIT."""
        if not statements:
            return
        with self._write_lock, store_errors(SETTING, self.url):
            db = self._writer
            with db.transaction(), db.pipeline(), db.cursor() as cursor:
                for sql, params in statements:
                    cursor.execute(sql, params)

    def commit(self, writes: Iterable[LedgerWrite]) -> None:
        """Apply acknowledged calls in one transaction (durable when this returns)."""
        self._run([s for write in writes for s in _write_statements(self.project, write)])

    def merge_people(self, person: str, merged: Iterable[str]) -> None:
        """``merged`` turned out to be ``person``: drop their entries, re-point their links."""
        kinds = [LEDGER_IDENTIFY, LEDGER_SEGMENT, LEDGER_DELETED]
        statements: list[Statement] = []
        for other in merged:
            statements.append((FORGET_KINDS, (self.project, kinds, other)))
            statements.append(
                (
                    f"UPDATE {PEOPLE} SET person = %s WHERE project = %s AND person = %s",  # noqa: S608 - constant
                    (person, self.project, other),
                )
            )
        self._run(statements)

    def count(self) -> int:
        """How many entries the project's ledger holds (for tests and summaries)."""
        rows = self._query(
            f"SELECT count(*) FROM {ENTRIES} WHERE project = %s",  # noqa: S608 - constant
            (self.project,),
        )
        return int(rows[0][0])

    def close(self) -> None:
        """Close both connections (idempotent)."""
        self._reader.close()
        self._writer.close()


class PostgresLedgerLock:
    """One writer per Refiner project on every machine: a session advisory lock, held all run."""

    def __init__(self, url: str, project: str, *, wait_seconds: float = 0.0) -> None:
        """Take the lock (waiting up to ``wait_seconds``) and record the holder, or refuse."""
        self.url = url
        self.project = project
        self._db = open_ledger_db(url)
        try:
            with store_errors(SETTING, url):
                self._take(wait_seconds)
        except BaseException:
            self._db.close()
            raise

    def _take(self, wait_seconds: float) -> None:
        self._lock = SessionLock(self._db, f"{ENTRIES}:{self.project}")
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        while not self._lock.try_acquire():
            if time.monotonic() >= deadline:
                raise LedgerInUseError(self._busy_message(wait_seconds))
            time.sleep(POLL_SECONDS)
        started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self._db.execute(
            f"INSERT INTO {HOLDERS} (project, host, pid, started_at) VALUES (%s, %s, %s, %s)"  # noqa: S608 - constant
            " ON CONFLICT (project) DO UPDATE SET host = excluded.host, pid = excluded.pid,"
            " started_at = excluded.started_at",
            (self.project, socket.gethostname(), os.getpid(), started),
        )

    def holder(self) -> dict[str, object]:
        """What the holder recorded: host, pid, start time (empty if it has not yet)."""
        row = self._db.execute(
            f"SELECT host, pid, started_at FROM {HOLDERS} WHERE project = %s",  # noqa: S608 - constant
            (self.project,),
        ).fetchone()
        return {} if row is None else {"host": row[0], "pid": row[1], "started_at": row[2]}

    def _busy_message(self, waited: float) -> str:
        ledger = f"The ledger of Refiner project {self.project} in {masked(self.url)}"
        return busy_message(ledger, self.holder(), waited)

    def release(self) -> None:
        """Unlock and close the lock's connection (idempotent; a dead connection unlocked it)."""
        if self._db.closed:
            return
        with suppress(Exception):  # a lost connection already gave the lock back
            self._lock.release()
        self._db.close()


def take_postgres_ledger(
    url: str, project: str, *, wait_seconds: float
) -> tuple[PostgresLedger, PostgresLedgerLock]:
    """The project's ledger in ``url``, its lock held first (released again on failure)."""
    lock = PostgresLedgerLock(url, project, wait_seconds=wait_seconds)
    try:
        return PostgresLedger(url, project), lock
    except BaseException:
        lock.release()
        raise
