"""The SQLite ledger: one file per Refiner project under ``state_dir``.

Tables ``ledger(kind, user_key, scope, hash)`` (primary key ``(kind, user_key, scope)``),
``person(identifier, person)`` and ``meta(name, value)``, whose ``project_uuid`` row names the
Refiner project whose calls the file remembers. ``files.py`` names the file and adopts files of
the older naming by ``api_url`` and key, so a rotated key or another spelling of the URL keeps
it, and another project never reads it (:meth:`Ledger.__init__` refuses a file of another
project). A file SQLite cannot read stops the run (:class:`LedgerUnreadableError`): treating it
as empty would send everything again.

Speed: WAL journal with ``synchronous=NORMAL`` (durable across a process crash, which is what a
kill -9 is; an OS crash may lose the last commits, which only causes re-sends), ``WITHOUT ROWID``,
reads on a per-thread connection, and writes batched into one transaction by the sender's
committer thread (:meth:`Ledger.commit`).

Scale: nothing is loaded whole. The sender asks for the person links and entries of a batch of
rows at a time (:meth:`Ledger.lookup_people`, :meth:`Ledger.lookup_entries`: a few indexed
queries per thousands of rows), so memory follows the batch, not the ledger.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from typing import TYPE_CHECKING

from target_refiner.errors import RunStoppedError
from target_refiner.ledger.keys import (
    LEDGER_DELETED,
    LEDGER_IDENTIFY,
    LEDGER_SEGMENT,
    NOT_MEMBER,
    LedgerKey,
    LedgerOfAnotherProjectError,
    LedgerUnreadableError,
    LedgerWrite,
    verdict,
)

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator, Sequence
    from pathlib import Path

#: Keys per lookup query: well under SQLite's (and any database's) limit of bound parameters;
#: a power of two (see ``_chunks``).
LOOKUP_CHUNK = 512

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    kind TEXT NOT NULL,
    user_key TEXT NOT NULL,
    scope TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (kind, user_key, scope)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS person (
    identifier TEXT PRIMARY KEY,
    person TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""
#: Page cache of each connection, KiB (SQLite's default is 2,000): with a connection per thread
#: that queries, the default caches filled as the ledger grew (6 MB at 40k people); lookups
#: run at the same speed on a 1M-person ledger with 512 (bench/RESULTS.md, issue 18).
PAGE_CACHE_KIB = 512
#: ``meta`` row naming the Refiner project whose calls the file remembers.
META_PROJECT = "project_uuid"
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    """``values`` by ``LOOKUP_CHUNK``, each padded with its last value to a power of two.

    Why padded: each number of ``?`` is another statement, and Python's sqlite3 keeps the last
    128 prepared on each connection (~75 KB at 500 keys): a batch's odd-sized last chunk made a
    new one, so memory grew with the run (~10 MB a connection). Padded, there are 10 sizes; a
    key repeated in ``IN`` changes no answer.
    """
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = list(values[start : start + LOOKUP_CHUNK])
        chunk += chunk[-1:] * ((1 << (len(chunk) - 1).bit_length()) - len(chunk))
        yield chunk


def project_ledger_path(state_dir: Path, project_uuid: str) -> Path:
    """The database of one Refiner project (the uuid Refiner's key check answers)."""
    name = project_uuid
    if not _PLAIN_NAME.match(name):
        name = hashlib.sha256(project_uuid.encode()).hexdigest()[:32]
    return state_dir / f"ledger-project-{name}.sqlite"


def legacy_ledger_path(state_dir: Path, api_url: str, api_key: str) -> Path:
    """The older naming, by a one-way hash of url and key: used when Refiner names no project."""
    digest = hashlib.sha256(f"{api_url.rstrip('/')}\n{api_key}".encode()).hexdigest()[:16]
    return state_dir / f"ledger-{digest}.sqlite"


def _refuse_emptied(path: Path) -> None:
    """A ledger file of 0 bytes without its WAL was emptied (SQLite writes a header at once)."""
    wal = path.with_name(path.name + "-wal")
    if path.exists() and path.stat().st_size == 0 and not wal.exists():
        msg = "the file is empty (0 bytes)"
        raise sqlite3.DatabaseError(msg)


def _quick_check(conn: sqlite3.Connection) -> None:
    """Raise DatabaseError for a damaged file (a truncated one reads fine until a lost page)."""
    check = conn.execute("PRAGMA quick_check(1)").fetchone()
    if check is None or check[0] != "ok":
        raise sqlite3.DatabaseError(check[0] if check else "no answer to quick_check")


class Ledger:
    """Lookups from any thread; batched writes from one thread."""

    def __init__(self, path: Path, *, project: str | None = None) -> None:
        """Create the file and tables if needed; check it is readable and ``project``'s."""
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _refuse_emptied(path)
            conn = self._conn()
            conn.execute("PRAGMA journal_mode=WAL")
            _quick_check(conn)
            conn.executescript(SCHEMA)
            self._claim(conn, project)
        except (sqlite3.DatabaseError, OSError) as exc:
            self.close()
            msg = (
                f"The ledger {path} cannot be read ({exc}). Restore it from a backup, or move it "
                "aside to start over knowingly (every row is then sent again, track events too)."
            )
            raise LedgerUnreadableError(msg) from None
        except RunStoppedError:
            self.close()
            raise

    def _claim(self, conn: sqlite3.Connection, project: str | None) -> None:
        """Record ``project`` in a file that names none; refuse a file of another project."""
        if project is None:
            return
        row = conn.execute("SELECT value FROM meta WHERE name=?", (META_PROJECT,)).fetchone()
        if row is None:
            conn.execute("INSERT INTO meta (name, value) VALUES (?, ?)", (META_PROJECT, project))
        elif row[0] != project:
            msg = (
                f"The ledger {self.path} belongs to Refiner project {row[0]}, but the key "
                f"answers for project {project}: a ledger is never shared between projects. "
                "Move the file back where it came from, or aside to start this project over."
            )
            raise LedgerOfAnotherProjectError(msg)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def lookup(self, key: LedgerKey) -> str | None:
        """The remembered hash for ``key``, or None."""
        row = (
            self._conn()
            .execute(
                "SELECT hash FROM ledger WHERE kind=? AND user_key=? AND scope=?",
                (key.kind, key.user_key, key.scope),
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    def is_unchanged(self, key: LedgerKey, payload_hash: str) -> bool:
        """True when Refiner already acknowledged exactly this (so the call can be skipped)."""
        return self.lookup(key) == payload_hash

    def already_done(self, key: LedgerKey | None, payload_hash: str) -> str | None:
        """``"skipped"`` (unchanged), ``"replayed"`` (event already sent) or None (send it)."""
        return verdict(key, None if key is None else self.lookup(key), payload_hash)

    def lookup_people(self, identifiers: Collection[str]) -> dict[str, str]:
        """Identifier -> person key for those of ``identifiers`` the ledger links.

        One indexed query per ``LOOKUP_CHUNK`` identifiers: the ledger is never read whole.
        """
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(set(identifiers))):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT identifier, person FROM person WHERE identifier IN ({marks})"  # noqa: S608 - only ? marks
            found.update(self._conn().execute(query, chunk).fetchall())  # TEXT columns: str
        return found

    def lookup_entries(self, keys: Collection[LedgerKey]) -> dict[LedgerKey, str]:
        """The remembered hash of each of ``keys`` the ledger holds (absent: nothing remembered).

        One indexed query per kind, scope and ``LOOKUP_CHUNK`` user keys.
        """
        groups: dict[tuple[str, str], set[str]] = {}
        for kind, user_key, scope in keys:
            groups.setdefault((kind, scope), set()).add(user_key)
        found: dict[LedgerKey, str] = {}
        for (kind, scope), user_keys in groups.items():
            for chunk in _chunks(sorted(user_keys)):
                marks = ",".join("?" * len(chunk))
                query = (
                    "SELECT user_key, hash FROM ledger"  # noqa: S608 - only ? marks
                    f" WHERE kind=? AND scope=? AND user_key IN ({marks})"
                )
                rows = self._conn().execute(query, (kind, scope, *chunk)).fetchall()
                found.update((LedgerKey(kind, user, scope), h) for user, h in rows)
        return found

    def commit(self, writes: Iterable[LedgerWrite]) -> None:
        """Apply acknowledged calls in one transaction."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for write in writes:
                self._apply(conn, write)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def merge_people(self, person: str, merged: Iterable[str]) -> None:
        """``merged`` turned out to be ``person``: drop their entries, re-point their links.

        Their identify hashes and segment marks were about calls made under another identifier
        of the same contact; forgetting them costs at most one re-sent identify, whereas keeping
        them could skip a call Refiner needs.
        """
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for other in merged:
                conn.execute(
                    "DELETE FROM ledger WHERE kind IN (?, ?, ?) AND user_key=?",
                    (LEDGER_IDENTIFY, LEDGER_SEGMENT, LEDGER_DELETED, other),
                )
                conn.execute("UPDATE person SET person=? WHERE person=?", (person, other))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @staticmethod
    def _apply(conn: sqlite3.Connection, write: LedgerWrite) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO person (identifier, person) VALUES (?, ?)", write.links
        )
        key = write.key
        if key is None:
            return
        if key.kind == LEDGER_DELETED:
            conn.execute(
                "DELETE FROM ledger WHERE kind IN (?, ?) AND user_key=?",
                (LEDGER_IDENTIFY, LEDGER_SEGMENT, key.user_key),
            )
        elif write.hash != NOT_MEMBER:
            # identify, track and segment add (re)create the contact
            conn.execute(
                "DELETE FROM ledger WHERE kind=? AND user_key=? AND scope=''",
                (LEDGER_DELETED, write.user_key),
            )
        conn.execute(
            "INSERT OR REPLACE INTO ledger (kind, user_key, scope, hash) VALUES (?, ?, ?, ?)",
            (key.kind, key.user_key, key.scope, write.hash),
        )

    def count(self) -> int:
        """How many entries the ledger holds (for tests and summaries)."""
        return int(self._conn().execute("SELECT COUNT(*) FROM ledger").fetchone()[0])

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
