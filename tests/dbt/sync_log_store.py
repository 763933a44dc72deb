"""A sync log for the dbt tests, written by target-refiner's SQLite backend, and what it holds.

Three runs of two projects across a UTC midnight: rows applied, rejected by Refiner (the same
message in several runs and on both days), rejected before any call, failed; a run that ended,
one that failed and one still running. ``expected_errors`` counts, in Python from the store's
rows, what the mart ``refiner__sync_errors`` must hold.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import defaultdict
from contextlib import closing
from typing import TYPE_CHECKING, Any

from refiner_stores.sync_log import (
    APPLIED,
    FAILED,
    FAILED_OUTCOME,
    FINISHED,
    IDENTIFY,
    MIRROR_ADD,
    NO_CALL,
    REJECTED,
    TRACK,
    UNCHANGED,
)
from target_refiner.ledger.sqlite import project_ledger_path
from target_refiner.sync_log.records import Change, RunRecord
from target_refiner.sync_log.sqlite import SqliteSyncLog

if TYPE_CHECKING:
    from pathlib import Path

PROJECT = "0d8759d0-401c-11ed-8ded-9757c4929b55"
OTHER_PROJECT = "5c1f7a52-9b0e-4d3a-8f61-0a2b3c4d5e6f"
TOO_LONG = "The plan attribute may not be greater than 255 characters."
ARRAY = "field 'tags' is a list: lists are not traits"
MIDNIGHT = dt.datetime(2026, 12, 6, tzinfo=dt.timezone.utc)


def at(seconds: float) -> dt.datetime:
    """A time ``seconds`` after 2026-12-06 00:00 UTC (negative: the day before)."""
    return MIDNIGHT + dt.timedelta(seconds=seconds)


def row(stream: str, user: str, action: str, outcome: str = APPLIED, **more: Any) -> Change:
    key = json.dumps({"id": user}, separators=(",", ":"))
    return Change(stream, key, user, f"{user}@example.com", action, outcome, **more)


def too_long(user: str) -> Change:
    return row("users", user, IDENTIFY, REJECTED, http_status=400, message=TOO_LONG)


def run(run_id: str, started: dt.datetime, project: str = PROJECT) -> RunRecord:
    return RunRecord(project, run_id, started, "f" * 64, "http://refiner.test/v1", "runner", 7)


def counts(rows_in: int, sent: int, unchanged: int, rejected: int) -> dict[str, int]:
    return {
        "rows_in": rows_in,
        "sent": sent,
        "unchanged": unchanged,
        "replays": 0,
        "rejected": rejected,
    }


def write_runs(store: SqliteSyncLog) -> None:
    """Run A (finished) across midnight, run B (failed) later that day, run C still running."""
    first = run("20261205T235000Z-aaaaaa", at(-600))
    store.start_run(first)
    store.log(
        first,
        [
            row("users", "u1", IDENTIFY, http_status=200),
            too_long("u2"),
            row("users", "u3", NO_CALL, REJECTED, message=ARRAY),
            row("events", "u1", TRACK, FAILED_OUTCOME, message="connection reset"),
        ],
        at(-0.5),
    )
    store.log(first, [too_long("u2"), too_long("u4")], at(1))
    first.status, first.finished_at, first.exit_code = FINISHED, at(2), 0
    first.streams = {"users": counts(5, 1, 0, 4), "events": counts(1, 0, 0, 0)}
    store.end_run(first)

    second = run("20261206T100000Z-bbbbbb", at(36_000))
    store.start_run(second)
    store.log(
        second,
        [row("users", "u1", UNCHANGED), too_long("u2"), row("audience", "u5", MIRROR_ADD)],
        at(36_001),
    )
    second.status, second.finished_at, second.exit_code = FAILED, at(36_002), 1
    second.message = "Stopped: the API stayed unreachable"
    second.streams = {"users": counts(2, 0, 1, 1)}
    second.mirror = {"seg-1": {"members": 0, "adds": 1, "removes": 0, "applied_adds": 1}}
    store.end_run(second)

    third = run("20261206T110000Z-cccccc", at(39_600), OTHER_PROJECT)
    store.start_run(third)
    store.log(third, [too_long("u9")], at(39_601))


def write_store(state_dir: Path) -> Path:
    """The ledger file of PROJECT under ``state_dir``, holding the three runs' sync log."""
    state_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteSyncLog(project_ledger_path(state_dir, PROJECT))
    try:
        write_runs(store)
    finally:
        store.close()
    return store.path


def store_rows(path: Path, table: str) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(path)) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(f"SELECT * FROM {table} ORDER BY seq")]  # noqa: S608 - our names


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def expected_errors(path: Path) -> dict[tuple, dict[str, Any]]:
    """Per (project, stream, outcome, message, UTC day): what refiner__sync_errors must say."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for change in store_rows(path, "refiner_sync_changelog"):
        if change["outcome"] in {REJECTED, FAILED_OUTCOME}:
            when = utc(change["logged_at"])
            key = (
                change["project"],
                change["stream"],
                change["outcome"],
                change["message"] or "",
                when.date(),
            )
            groups[key].append({**change, "when": when})
    return {
        key: {
            "error_count": len(rows),
            "run_count": len({r["run_id"] for r in rows}),
            "contact_count": len({r["user_id"] or r["email"] for r in rows}),
            "first_seen_at": min(r["when"] for r in rows),
            "last_seen_at": max(r["when"] for r in rows),
            "last_run_id": rows[-1]["run_id"],
            "last_http_status": rows[-1]["http_status"],
        }
        for key, rows in groups.items()
    }


def expected_run_totals(path: Path) -> dict[str, tuple[str, int, int, int, int, int]]:
    """Per run: its status and its streams' rows in, sent, unchanged, replays, rejected."""
    names = ("rows_in", "sent", "unchanged", "replays", "rejected")
    totals = {}
    for record in store_rows(path, "refiner_sync_runs"):
        streams = json.loads(record["streams"]).values()
        sums = tuple(sum(s.get(n, 0) for s in streams) for n in names)
        totals[record["run_id"]] = (record["status"], *sums)
    return totals
