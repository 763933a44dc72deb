"""A sync log written through target-refiner's own backend in two steps, and what the tap emits.

Step one: a run starts and logs three rows (one rejected). Step two: the same run logs two more
(one replaces a row's snapshot) and ends. A tap run after each step must emit exactly the rows
that step wrote or changed. Used against SQLite (tests/tap), PostgreSQL (tests/warehouse) and
through Meltano, so every backend is held to the same records.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from refiner_stores import sync_log
from target_refiner.sync_log.records import Change
from tests.target.sync_log_contract import ended, run_record

if TYPE_CHECKING:
    from target_refiner.sync_log.records import RunRecord, SyncLogStore

SYNC_LOG_STREAMS = ["sync_runs", "sync_changelog", "sync_snapshot"]
PROJECT = "0b7c6a3e-5a43-4ad1-9c51-2f0b1d6f4c11"
RUN_ID = "run-7f3c"
STARTED = dt.datetime(2026, 12, 7, 4, 0, 0, 123456, tzinfo=dt.timezone.utc)
FIRST_LOGGED = STARTED + dt.timedelta(seconds=1)
SECOND_LOGGED = STARTED + dt.timedelta(seconds=2)
FINISHED = STARTED + dt.timedelta(seconds=3)
# As the records carry them (ISO 8601 UTC, microseconds, Z).
STARTED_TEXT = "2026-12-07T04:00:00.123456Z"
FIRST_TEXT = "2026-12-07T04:00:01.123456Z"
SECOND_TEXT = "2026-12-07T04:00:02.123456Z"
FINISHED_TEXT = "2026-12-07T04:00:03.123456Z"

# (the change logged, its row_key as the records carry it: keys sorted)
FIRST = [
    (
        Change(
            "users", '{"id": "u-1"}', "u-1", "one@example.com", sync_log.IDENTIFY, "applied", 200
        ),
        '{"id": "u-1"}',
    ),
    (
        Change(
            "users", '{"id": "u-2"}', "u-2", None, sync_log.IDENTIFY, "rejected", 422, "bad email"
        ),
        '{"id": "u-2"}',
    ),
    (
        Change(
            "events", '{"user_id": "u-1", "id": "e-1"}', "u-1", None, sync_log.TRACK, "applied", 200
        ),
        '{"id": "e-1", "user_id": "u-1"}',
    ),
]
SECOND = [
    (  # the same row again, unchanged: its snapshot row is replaced (new seq, new action)
        Change("users", '{"id": "u-1"}', "u-1", "one@example.com", sync_log.UNCHANGED, "applied"),
        '{"id": "u-1"}',
    ),
    (
        Change("users", '{"id": "u-3"}', "u-3", None, sync_log.IDENTIFY, "applied", 200),
        '{"id": "u-3"}',
    ),
]
COUNTS = {"users": {"rows_in": 3, "sent": 1, "unchanged": 1, "replays": 0, "rejected": 1}}
MIRROR = {"seg-1": {"members": 3, "adds": 1, "removes": 0, "applied_adds": 1, "applied_removes": 0}}


def write_first(store: SyncLogStore) -> RunRecord:
    """Step one: the run starts and logs three rows."""
    run = run_record(RUN_ID, STARTED, PROJECT)
    store.start_run(run)
    store.log(run, [change for change, _ in FIRST], FIRST_LOGGED)
    return run


def write_second(store: SyncLogStore, run: RunRecord) -> None:
    """Step two: two more rows, then the run ends (its row is written again)."""
    store.log(run, [change for change, _ in SECOND], SECOND_LOGGED)
    ended(run, FINISHED)  # streams: COUNTS
    run.mirror = MIRROR
    store.end_run(run)


def change_record(change: Change, row_key: str, logged_at: str) -> dict[str, Any]:
    """A changelog / snapshot record without its ``seq``."""
    return {
        "project": PROJECT,
        "run_id": RUN_ID,
        "logged_at": logged_at,
        "stream": change.stream,
        "row_key": row_key,
        "user_id": change.user_id,
        "email": change.email,
        "action": change.action,
        "outcome": change.outcome,
        "http_status": change.http_status,
        "message": change.message,
    }


def run_as_record(*, finished: bool) -> dict[str, Any]:
    """The run's record without its ``seq``: running after step one, finished after two."""
    return {
        "project": PROJECT,
        "run_id": RUN_ID,
        "started_at": STARTED_TEXT,
        "finished_at": FINISHED_TEXT if finished else None,
        "status": "finished" if finished else "running",
        "exit_code": 0 if finished else None,
        "message": None,
        "streams": COUNTS if finished else {},
        "mirror": MIRROR if finished else {},
        "settings_fingerprint": "f" * 64,
        "api_url": "http://refiner.test/v1",
        "host": "runner",
        "pid": 4242,
    }


def first_changes() -> list[dict[str, Any]]:
    return [change_record(change, key, FIRST_TEXT) for change, key in FIRST]


def second_changes() -> list[dict[str, Any]]:
    return [change_record(change, key, SECOND_TEXT) for change, key in SECOND]


def without_seq(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in record.items() if k != "seq"} for record in records]


def assert_increasing(records: list[dict[str, Any]]) -> None:
    seqs = [record["seq"] for record in records]
    assert seqs == sorted(set(seqs)), seqs


def assert_first_step(records: dict[str, list[dict[str, Any]]]) -> None:
    """What a tap run after step one emits: every row, the run still running."""
    assert without_seq(records["sync_runs"]) == [run_as_record(finished=False)]
    assert without_seq(records["sync_changelog"]) == first_changes()
    assert without_seq(records["sync_snapshot"]) == first_changes()
    for stream in SYNC_LOG_STREAMS:
        assert_increasing(records[stream])
    # A snapshot row is its changelog row, seq included.
    assert records["sync_snapshot"] == records["sync_changelog"]


def assert_second_step(
    records: dict[str, list[dict[str, Any]]], first: dict[str, list[dict[str, Any]]]
) -> None:
    """What a tap run after step two emits: only what step two wrote or changed."""
    assert without_seq(records["sync_runs"]) == [run_as_record(finished=True)]
    assert records["sync_runs"][0]["seq"] > first["sync_runs"][0]["seq"]
    assert without_seq(records["sync_changelog"]) == second_changes()
    assert without_seq(records["sync_snapshot"]) == second_changes()  # u-1 replaced, u-3 new
    assert records["sync_snapshot"] == records["sync_changelog"]
    for stream in SYNC_LOG_STREAMS:
        assert min(r["seq"] for r in records[stream]) > max(r["seq"] for r in first[stream])


def assert_landed_twice(
    after_first: dict[str, list[dict[str, Any]]], after_second: dict[str, list[dict[str, Any]]]
) -> None:
    """A warehouse after two extractions: the run replaced, two changelog rows added, one
    snapshot row replaced (u-1) and one added (u-3); the first landing's changelog untouched."""
    assert {s: len(rows) for s, rows in after_first.items()} == {
        "sync_runs": 1,
        "sync_changelog": 3,
        "sync_snapshot": 3,
    }
    assert len(after_second["sync_runs"]) == 1  # replaced by run_id
    assert len(after_second["sync_changelog"]) == 3 + 2
    assert len(after_second["sync_snapshot"]) == 3 + 1
    assert after_second["sync_changelog"][:3] == after_first["sync_changelog"]
    assert after_second["sync_runs"][0]["status"] == "finished"
    snapshot = {row["row_key"]: row["action"] for row in after_second["sync_snapshot"]}
    assert snapshot['{"id": "u-1"}'] == "unchanged"  # replaced, not added
