"""The sync log's writes, once, in the SQL both backends speak (SQLite and PostgreSQL).

A backend (``sqlite.py``, ``postgres.py``) supplies a :class:`Dialect` (its parameter mark and
how a JSON parameter is written), how a time is stored, and one write transaction at a time
(:meth:`SqlSyncLog._writing`, inside which ``seq`` values are drawn in commit order).
:class:`SqlSyncLog` does the rest, so the two stores cannot drift apart in meaning:

- runs: ``seq`` is ``max(seq) + 1`` of the runs table, drawn inside the write transaction, for
  the first write and again for every rewrite (a run ending, a stale run marked failed);
- changelog: ``seq`` comes from the table (``AUTOINCREMENT`` / identity); a batch is one
  ``INSERT ... SELECT`` from one JSON array parameter (the batch's :class:`Change` tuples, in
  order), then one ``INSERT ... SELECT`` makes the batch's newest row per key the snapshot
  row, with that changelog row's ``seq``. One statement per batch, not one per row: the
  driver releases the GIL once for the whole batch, where a row-by-row ``executemany``
  released and re-took it per row and so stalled the run's main thread at every row (measured:
  ``bench/target_resync.py``);
- prune: changelog rows logged before the cut (in chunks, a transaction each), runs that
  ended (or started, if they never ended) before it, except the project's newest run; the
  snapshot is never pruned.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from refiner_stores.sync_log import (
    CHANGE_COLUMNS,
    CHANGELOG,
    FAILED,
    RUN_COLUMNS,
    RUNNING,
    RUNS,
    SNAPSHOT,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterator, Sequence
    from contextlib import AbstractContextManager

    from target_refiner.sync_log.records import Change, RunRecord

#: ``message`` of a run found ``running`` by the next run of its project.
ENDED_WITHOUT_FINISHING = (
    "The process ended without finishing (killed, or its machine was lost): no end was "
    "written. Marked failed by run {run_id}."
)


def aware(moment: dt.datetime) -> dt.datetime:
    """``moment``, refused if it has no time zone (a naive time would be read as local)."""
    if moment.tzinfo is None:
        msg = f"the sync log stores timezone-aware times only, got {moment!r}"
        raise ValueError(msg)
    return moment


#: A batch of :class:`Change` tuples as one JSON array of arrays (str, int and None only).
_BATCH = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":"))
#: A NUL character: the JSON functions of SQLite end a string there, PostgreSQL refuses it.
_NUL = "\x00"


def batch_json(changes: Sequence[Change]) -> str:
    r"""``changes`` as the one JSON parameter of :attr:`Statements.insert_changes`.

    A NUL character in a value is written as the six characters ``\u0000``: kept visible,
    where SQLite would cut the value short and PostgreSQL would refuse the batch (the run stops).
    """
    text = _BATCH.encode(changes)
    if "\\u0000" not in text:
        return text
    return _BATCH.encode(
        [
            [v.replace(_NUL, "\\u0000") if isinstance(v, str) else v for v in change]
            for change in changes
        ]
    )


def compact_json(value: object) -> str:
    """JSON as stored: compact, keys sorted (equal values are equal text)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class Cursor(Protocol):
    """The DB-API cursor methods used here (``sqlite3`` and psycopg both have them)."""

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> object:
        """Run one statement."""

    def fetchall(self) -> list[Any]:
        """The rows of the last statement."""


@dataclass(frozen=True)
class Dialect:
    """What differs in the text of a statement: marks, casts, a JSON array's elements."""

    mark: str  # "?" or "%s"
    json_mark: str  # a parameter holding JSON text: "?" or "%s::jsonb"
    #: A JSON array parameter's elements as rows of (``key``: position, ``value``: element).
    elements: str
    #: Item ``{item}`` of an element (itself an array) as SQL text or number.
    item: str
    #: Casts of an item to a column's type, by type: ``json``, ``integer``.
    casts: tuple[tuple[str, str], ...] = ()

    def item_as(self, item: int, type_: str) -> str:
        """``value``'s item ``item`` as a column of ``type_`` (``json``, ``integer``, ``text``)."""
        cast = dict(self.casts).get(type_, "")
        return self.item.format(item=item) + cast


#: ``json_extract`` (not ``->>``, SQLite 3.38+): any SQLite with JSON1, which Python's has.
SQLITE = Dialect(
    mark="?", json_mark="?", elements="json_each(?)", item="json_extract(value, '$[{item}]')"
)
POSTGRES = Dialect(
    mark="%s",
    json_mark="%s::jsonb",
    elements="jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS elements (value, key)",
    item="(value ->> {item})",
    casts=(("json", "::jsonb"), ("integer", "::integer")),
)
#: The type of each :class:`Change` item, for the dialect's casts.
_CHANGE_TYPES = {"row_key": "json", "http_status": "integer"}


class Statements:
    """The statements of :class:`SqlSyncLog` in one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        """Write every statement with ``dialect``'s marks."""
        p, j = dialect.mark, dialect.json_mark
        json_columns = {"streams": j, "mirror": j}
        run_values = [json_columns.get(name, p) for name in RUN_COLUMNS[1:]]
        updated = ", ".join(f"{name} = excluded.{name}" for name in RUN_COLUMNS if name != "run_id")
        self.upsert_run = (
            f"INSERT INTO {RUNS} ({', '.join(RUN_COLUMNS)})"  # noqa: S608 - constant SQL
            f" VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM {RUNS}), {', '.join(run_values)})"
            f" ON CONFLICT (run_id) DO UPDATE SET {updated}"
        )
        self.running_runs = (
            f"SELECT run_id FROM {RUNS} WHERE project = {p} AND status = {p} ORDER BY seq"  # noqa: S608 - constant SQL
        )
        self.mark_failed = (
            f"UPDATE {RUNS} SET status = {p}, message = {p},"  # noqa: S608 - constant SQL
            f" seq = (SELECT MAX(seq) + 1 FROM {RUNS}) WHERE run_id = {p}"
        )
        logged = CHANGE_COLUMNS[1:]  # project, run_id, logged_at, then a Change's items
        items = [
            dialect.item_as(i, _CHANGE_TYPES.get(name, "text")) for i, name in enumerate(logged[3:])
        ]
        self.insert_changes = (
            f"INSERT INTO {CHANGELOG} ({', '.join(logged)})"  # noqa: S608 - constant SQL
            f" SELECT {p}, {p}, {p}, {', '.join(items)} FROM {dialect.elements} ORDER BY key"
        )
        self.last_change = f"SELECT COALESCE(MAX(seq), 0) FROM {CHANGELOG}"  # noqa: S608 - constant SQL
        replaced = ", ".join(
            f"{name} = excluded.{name}"
            for name in CHANGE_COLUMNS
            if name not in {"project", "stream", "row_key"}
        )
        self.snapshot_since = (
            f"INSERT INTO {SNAPSHOT} ({', '.join(CHANGE_COLUMNS)})"  # noqa: S608 - constant SQL
            f" SELECT {', '.join(CHANGE_COLUMNS)} FROM {CHANGELOG} WHERE seq IN"
            f" (SELECT MAX(seq) FROM {CHANGELOG} WHERE seq > {p} AND seq <= {p}"
            " GROUP BY project, stream, row_key)"
            f" ON CONFLICT (project, stream, row_key) DO UPDATE SET {replaced}"
        )
        self.prune_changes = (
            f"DELETE FROM {CHANGELOG} WHERE seq IN (SELECT seq FROM {CHANGELOG}"  # noqa: S608 - constant SQL
            f" WHERE project = {p} AND logged_at < {p} LIMIT {p})"
        )
        self.prune_runs = (
            f"DELETE FROM {RUNS} WHERE project = {p}"  # noqa: S608 - constant SQL
            f" AND COALESCE(finished_at, started_at) < {p}"
            f" AND seq < (SELECT MAX(seq) FROM {RUNS} WHERE project = {p})"
        )


class SqlSyncLog:
    """``SyncLogStore`` over :class:`Statements`; a backend adds its connection and times."""

    store_id: str
    statements: Statements
    #: Changelog rows one prune transaction deletes at most.
    prune_chunk = 5000

    def _writing(self) -> AbstractContextManager[Cursor]:
        """One write transaction, committed when the block ends (rolled back on error)."""
        raise NotImplementedError

    def _time(self, moment: dt.datetime) -> object:
        """``moment`` as the backend stores it."""
        raise NotImplementedError

    def _run_row(self, run: RunRecord) -> tuple[Any, ...]:
        finished = None if run.finished_at is None else self._time(run.finished_at)
        return (
            run.project,
            run.run_id,
            self._time(run.started_at),
            finished,
            run.status,
            run.exit_code,
            run.message,
            compact_json(run.streams),
            compact_json(run.mirror),
            run.settings_fingerprint,
            run.api_url,
            run.host,
            run.pid,
        )

    def start_run(self, run: RunRecord) -> list[str]:
        """Mark ``run.project``'s runs still ``running`` failed, then write ``run``."""
        sql = self.statements
        with self._writing() as cursor:
            cursor.execute(sql.running_runs, (run.project, RUNNING))
            stale = [str(row[0]) for row in cursor.fetchall()]
            message = ENDED_WITHOUT_FINISHING.format(run_id=run.run_id)
            for run_id in stale:  # one statement each: every rewrite draws its own seq
                cursor.execute(sql.mark_failed, (FAILED, message, run_id))
            cursor.execute(sql.upsert_run, self._run_row(run))
        return stale

    def log(self, run: RunRecord, changes: Sequence[Change], logged_at: dt.datetime) -> None:
        """Append ``changes`` to the changelog and make them the snapshot, in one transaction."""
        if not changes:
            return
        batch = (run.project, run.run_id, self._time(logged_at), batch_json(changes))
        with self._writing() as cursor, self._snapshot_of_appended(cursor):
            cursor.execute(self.statements.insert_changes, batch)

    @contextmanager
    def _snapshot_of_appended(self, cursor: Cursor) -> Iterator[None]:
        """The changelog rows the block appends become the snapshot (each key's newest)."""
        sql = self.statements
        cursor.execute(sql.last_change)
        before = cursor.fetchall()[0][0]
        yield
        cursor.execute(sql.last_change)
        last = cursor.fetchall()[0][0]
        # Both bounds: an index range even on a table the planner has no statistics of yet.
        cursor.execute(sql.snapshot_since, (before, last))

    def end_run(self, run: RunRecord) -> None:
        """Rewrite ``run``'s row (status, end, exit code, counts) with a new ``seq``."""
        with self._writing() as cursor:
            cursor.execute(self.statements.upsert_run, self._run_row(run))

    def prune(self, project: str, before: dt.datetime) -> int:
        """Delete ``project``'s runs and changelog rows older than ``before``; how many went.

        Changelog rows go :attr:`prune_chunk` at a time, each chunk its own transaction: a
        month of rows to drop never holds the write lock (the ledger's committer waits on it
        in SQLite) longer than one chunk takes.
        """
        sql = self.statements
        cut = self._time(before)
        gone = 0
        while True:
            with self._writing() as cursor:
                cursor.execute(sql.prune_changes, (project, cut, self.prune_chunk))
                chunk = cursor.rowcount
            gone += chunk
            if chunk < self.prune_chunk:
                break
        with self._writing() as cursor:
            cursor.execute(sql.prune_runs, (project, cut, project))
            return gone + cursor.rowcount
