"""Two runs' sync log, as the README's example queries expect it (yesterday's and today's).

Shared by the README test of the queries on SQLite (tests/docs) and of their PostgreSQL form
(tests/warehouse), so both ask the same questions of the same log.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from refiner_stores.sync_log import (
    APPLIED,
    FAILED_OUTCOME,
    IDENTIFY,
    MIRROR_ADD,
    MIRROR_REMOVE,
    REJECTED,
    SEGMENT_ADD,
    TRACK,
    UNCHANGED,
)
from target_refiner.sync_log.records import Change, RunRecord

if TYPE_CHECKING:
    from target_refiner.sync_log.records import SyncLogStore

SEGMENT_ACTIONS = {"segment_add", "segment_remove", "mirror_add", "mirror_remove"}


def person(user_id: str, action: str, outcome: str = APPLIED, **more: Any) -> Change:
    """A changelog row of ``user_id`` in stream ``users`` (mirror rows in ``audience``)."""
    stream = "audience" if action in SEGMENT_ACTIONS else "users"
    key = json.dumps({"id": user_id}, separators=(",", ":"))
    return Change(stream, key, user_id, f"{user_id}@example.com", action, outcome, **more)


def log_two_runs(store: SyncLogStore, project: str, now: dt.datetime) -> None:
    """Yesterday's run and today's (the last), each written in two batches, into ``store``."""
    runs = [
        (
            "20261206T100000Z-aaaaaa",
            now - dt.timedelta(days=1),
            [
                person("user-1", IDENTIFY, http_status=200),
                person("user-2", IDENTIFY, REJECTED, http_status=422, message="email is invalid"),
                person("user-5", MIRROR_ADD),
            ],
        ),
        (
            "20261207T100000Z-bbbbbb",
            now - dt.timedelta(minutes=5),
            [
                person("user-1", UNCHANGED),
                person("user-3", IDENTIFY, REJECTED, http_status=422, message="id is too long"),
                person("user-4", TRACK, FAILED_OUTCOME, message="connection reset"),
                person("user-1", SEGMENT_ADD),
                person("user-5", MIRROR_REMOVE),
                person("user-6", MIRROR_ADD),
            ],
        ),
    ]
    for run_id, started, changes in runs:
        run = RunRecord(project, run_id, started, "f" * 64, "http://x/v1", "h", 1)
        store.start_run(run)
        store.log(run, changes[:2], started + dt.timedelta(seconds=1))
        store.log(run, changes[2:], started + dt.timedelta(seconds=2))
        store.end_run(run)
