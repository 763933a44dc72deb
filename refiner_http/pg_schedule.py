"""The pacing schedule in PostgreSQL (``pacing_url``): one budget for every process and machine.

A row per schedule (``key``, ``user:<hash>``) per Refiner environment (a hash of URL and key,
never the key). Each booking is ONE autocommit statement, an upsert that computes the new TAT
from the row it locks, so a booking costs one round trip and the row is locked only while that
statement runs. TATs are seconds on the database's clock (``clock_timestamp()``, read after the
row lock is taken): machines' clocks differ, the database has one. A :class:`Booking` carries
only relative values (delay, interval, burst tolerance), and the answer is a wait in seconds,
which every machine can sleep on its own clock.

Commits are asynchronous (``synchronous_commit = off`` for this session): a booking lost in a
database crash is harmless, and the row lock is not held across a disk flush.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar, cast

from refiner_http.pacing import Booking, Hold
from refiner_http.schedule import IDLE_SECONDS, MAX_AHEAD_SECONDS, Step, environment_digest
from refiner_stores.postgres import open_store, store_errors

if TYPE_CHECKING:
    from collections.abc import Callable

    import psycopg

R = TypeVar("R")
SETTING = "Setting `pacing_url`"
STORE = "pacing"
MIGRATIONS = (
    """
    CREATE TABLE refiner_pacing (
        environment text NOT NULL,
        name text NOT NULL,
        tat double precision NOT NULL,
        PRIMARY KEY (environment, name)
    )
    """,
)
_NOW = "extract(epoch FROM clock_timestamp())::float8"
#: A TAT further ahead than MAX_AHEAD_SECONDS is not believed (see schedule.py), as if absent.
_BELIEVED = f"CASE WHEN p.tat > {_NOW} + %(ahead)s THEN 0 ELSE p.tat END"
BOOK = f"""
INSERT INTO refiner_pacing AS p (environment, name, tat)
VALUES (%(environment)s, %(name)s, {_NOW} + %(delay)s + %(interval)s)
ON CONFLICT (environment, name)
DO UPDATE SET tat = greatest({_BELIEVED}, {_NOW} + %(delay)s) + %(interval)s
RETURNING tat, {_NOW}
"""  # noqa: S608 - constant SQL, values are parameters
HOLD = f"""
INSERT INTO refiner_pacing AS p (environment, name, tat)
VALUES (%(environment)s, %(name)s, {_NOW} + %(seconds)s)
ON CONFLICT (environment, name) DO UPDATE SET tat = greatest({_BELIEVED}, excluded.tat)
"""  # noqa: S608 - constant SQL, values are parameters
PEEK = f"""
SELECT tat - {_NOW} FROM refiner_pacing WHERE environment = %(environment)s AND name = %(name)s
"""  # noqa: S608 - constant SQL, values are parameters
FORGET = f"""
DELETE FROM refiner_pacing WHERE environment = %(environment)s AND tat < {_NOW} - %(idle)s
"""  # noqa: S608 - constant SQL, values are parameters
COUNT = "SELECT count(*) FROM refiner_pacing WHERE environment = %(environment)s"


class PostgresSchedule:
    """TATs in a PostgreSQL table shared by every process that uses the same URL and key."""

    def __init__(self, url: str, environment: str) -> None:
        """Connect, create or migrate the table; ``environment`` names this URL+key's rows."""
        self._url = url
        self._environment = environment
        #: Local and only used for differences (``peek``): TATs live on the database's clock.
        self.clock: Callable[[], float] = time.monotonic
        self._lock = threading.Lock()
        self._db = self._open()

    def _open(self) -> psycopg.Connection[Any]:
        return open_store(
            self._url,
            setting=SETTING,
            store=STORE,
            steps=MIGRATIONS,
            session="SET synchronous_commit = off",
        )

    def _one(self, sql: str, **params: float | str) -> tuple[Any, ...] | None:
        """Run one statement (reconnecting once if the connection was lost); its first row."""
        import psycopg  # noqa: PLC0415 - installed: this object has a connection

        params = {"environment": self._environment, "ahead": MAX_AHEAD_SECONDS, **params}
        with self._lock, store_errors(SETTING, self._url):
            try:
                cursor = self._db.execute(sql, params)
            except psycopg.OperationalError:
                if not (self._db.closed or self._db.broken):
                    raise
                self._db = self._open()  # e.g. the server restarted: one new connection
                cursor = self._db.execute(sql, params)
            return cursor.fetchone() if cursor.description else None

    def update(self, name: str, step: Step[R], now: float) -> R:  # noqa: ARG002 - see Booking
        """See ``Schedule.update``; only pacing's own steps (:class:`Booking`, :class:`Hold`)."""
        if isinstance(step, Booking):
            row = self._one(BOOK, name=name, delay=step.delay, interval=step.interval) or (0.0, 0.0)
            tat, db_now = float(row[0]), float(row[1])
            wait = max(step.delay, tat - step.interval - step.tolerance - db_now)
            return cast("R", wait)
        if isinstance(step, Hold):
            self._one(HOLD, name=name, seconds=step.seconds)
            return cast("R", None)
        msg = f"PostgresSchedule books only Booking and Hold steps, not {step!r}"
        raise TypeError(msg)

    def peek(self, name: str) -> float:
        """See ``Schedule.peek``: the TAT on this schedule's (local) clock."""
        row = self._one(PEEK, name=name)
        return self.clock() + float(row[0]) if row else 0.0

    def forget_idle(self, now: float) -> None:  # noqa: ARG002 - the database's clock decides
        """See ``Schedule.forget_idle``."""
        self._one(FORGET, idle=IDLE_SECONDS)

    def __len__(self) -> int:
        """See ``Schedule.__len__`` (this environment's rows)."""
        row = self._one(COUNT)
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()


def open_postgres_schedule(url: str, api_url: str, api_key: str) -> PostgresSchedule:
    """The schedule of this Refiner environment in the database at ``url``."""
    return PostgresSchedule(url, environment_digest(api_url, api_key))
