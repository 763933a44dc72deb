"""PostgreSQL stores: open from a URL, create and migrate a schema by version, take locks.

psycopg (the ``postgres`` extra) is imported inside these functions only, so the lean install
never loads it; a ``postgresql://`` setting without it stops with one line naming the extra.
Every error leaving here is a :class:`StoreError` whose text shows the URL masked and never the
password (libpq quotes neither, but a password can appear in a server's message).

Schema versions: each store (``pacing``, ``webhooks``, ...) has a row in ``refiner_store_versions``
and a list of steps, step *n* taking the schema from version *n* to *n + 1*. :func:`migrate` runs
the missing steps in one transaction under an advisory lock, so processes starting together on
different machines create a store once; a schema newer than this code knows is refused.

Locks are PostgreSQL advisory locks named by a string (hashed to the 64-bit key PostgreSQL takes):
:func:`lock_for_transaction` is released by COMMIT or ROLLBACK; :class:`SessionLock` is held until
released or the connection ends (a killed process never leaves it taken).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from refiner_stores.location import masked, url_password

if TYPE_CHECKING:
    import psycopg

EXTRA = "refiner-singer[postgres]"
CONNECT_TIMEOUT_SECONDS = 10
APPLICATION_NAME = "refiner-singer"
VERSIONS_TABLE = "refiner_store_versions"
#: One schema step: SQL (several statements allowed, no parameters) or a function of a cursor.
Step = str | Callable[["psycopg.Cursor[Any]"], None]


class StoreError(RuntimeError):
    """A store cannot be opened, migrated or used; the message names it with its URL masked."""


class MissingDriverError(StoreError):
    """A PostgreSQL URL is set but psycopg (the ``postgres`` extra) is not installed."""


def missing_driver_message(setting: str) -> str:
    """The one line a ``postgresql://`` setting gets when psycopg cannot be imported."""
    return (
        f"{setting} is a PostgreSQL URL, which needs the postgres extra (psycopg is not "
        f"installed): pip install '{EXTRA}'"
    )


def driver_missing(setting: str) -> str | None:
    """:func:`missing_driver_message` when psycopg cannot be imported, else None."""
    try:
        import psycopg  # noqa: F401, PLC0415 - the optional driver, loaded only for a URL
    except ImportError:
        return missing_driver_message(setting)
    return None


def scrub(text: str, url: str) -> str:
    """``text`` on one line, ``url`` masked and its password (if any) replaced, for errors and logs.

    libpq's messages span lines (a lost server adds two of advice): a stop is one line.
    """
    text = " ".join(text.split()).replace(url, masked(url))
    password = url_password(url)
    return text.replace(password, "***") if password else text


def connect(url: str, *, setting: str) -> psycopg.Connection[Any]:
    """An autocommit connection to ``url``; ``setting`` names where the URL came from."""
    try:
        import psycopg  # noqa: PLC0415 - the optional driver, loaded only for a URL
    except ImportError:
        raise MissingDriverError(missing_driver_message(setting)) from None
    try:
        return psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=APPLICATION_NAME,
        )
    except psycopg.Error as exc:
        msg = f"Cannot open {setting} {masked(url)}: {scrub(str(exc).strip(), url)}"
        raise StoreError(msg) from None


def open_store(
    url: str, *, setting: str, store: str, steps: Sequence[Step], session: str = ""
) -> psycopg.Connection[Any]:
    """Connect, bring ``store``'s schema to its version, then run ``session`` (``SET ...``).

    What every PostgreSQL store does on opening; the connection is closed again on failure.
    """
    db = connect(url, setting=setting)
    try:
        with store_errors(setting, url):
            migrate(db, store, steps)
            if session:
                db.execute(session)
    except BaseException:
        db.close()
        raise
    return db


def open_reader(
    url: str, *, setting: str, tables: Sequence[str], absent: Callable[[str], StoreError]
) -> psycopg.Connection[Any]:
    """A read-only session on a database holding ``tables``; else ``absent(first missing)``.

    How every reader of a store of ours opens it (the tap's ``webhook_events`` and sync-log
    streams): reading never creates or changes anything, and a database without the store is
    a stop naming it, not an empty read.
    """
    db = connect(url, setting=setting)
    try:
        with store_errors(setting, url):
            db.execute("SET default_transaction_read_only = on")
            lacking = [
                table
                for table in tables
                if db.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,)
            ]
    except BaseException:
        db.close()
        raise
    if lacking:
        db.close()
        raise absent(lacking[0])
    return db


@contextmanager
def store_errors(setting: str, url: str) -> Iterator[None]:
    """Turn a driver error inside the block into a :class:`StoreError` with the URL masked."""
    import psycopg  # noqa: PLC0415 - only reached once a connection was opened

    try:
        yield
    except psycopg.Error as exc:
        msg = f"{setting} {masked(url)} failed: {scrub(str(exc).strip(), url)}"
        raise StoreError(msg) from exc


def lock_key(name: str) -> int:
    """The signed 64-bit advisory lock key of ``name`` (stable across processes and versions)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def lock_for_transaction(cursor: psycopg.Cursor[Any], name: str) -> None:
    """Wait for the advisory lock ``name``; COMMIT or ROLLBACK releases it."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(name),))


class SessionLock:
    """An advisory lock held by one connection until released or the connection ends."""

    def __init__(self, db: psycopg.Connection[Any], name: str) -> None:
        """Remember the connection (autocommit) and the lock's name; nothing is taken yet."""
        self._db = db
        self._key = lock_key(name)
        self.held = False

    def try_acquire(self) -> bool:
        """Take the lock if no other session holds it; never waits."""
        row = self._db.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
        self.held = bool(row and row[0])
        return self.held

    def release(self) -> None:
        """Give the lock back (idempotent)."""
        if self.held:
            self._db.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
            self.held = False


def migrate(db: psycopg.Connection[Any], store: str, steps: Sequence[Step]) -> int:
    """Bring ``store``'s schema to ``len(steps)``; return the version found before.

    One transaction under the advisory lock ``refiner_store_versions``: a second process
    waits, then finds the schema current. A schema newer than ``steps`` is refused.
    """
    with db.transaction(), db.cursor() as cursor:
        lock_for_transaction(cursor, VERSIONS_TABLE)
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE}"
            " (store text PRIMARY KEY, version integer NOT NULL)"
        )
        row = cursor.execute(
            f"SELECT version FROM {VERSIONS_TABLE} WHERE store = %s",  # noqa: S608 - constant
            (store,),
        ).fetchone()
        found = int(row[0]) if row else 0
        if found > len(steps):
            msg = (
                f"The {store} store has schema version {found}, newer than this "
                f"refiner-singer knows ({len(steps)}): upgrade refiner-singer"
            )
            raise StoreError(msg)
        for step in steps[found:]:
            if isinstance(step, str):
                cursor.execute(step)  # no parameters: several statements may run at once
            else:
                step(cursor)
        cursor.execute(
            f"INSERT INTO {VERSIONS_TABLE} (store, version) VALUES (%s, %s)"  # noqa: S608 - constant
            " ON CONFLICT (store) DO UPDATE SET version = excluded.version",
            (store, len(steps)),
        )
    return found
