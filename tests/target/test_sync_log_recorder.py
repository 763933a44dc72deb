"""The sync-log recorder: what each noted outcome becomes, how a run's end is written.

Unit tests against a tiny in-memory store that keeps what the ``SyncLogStore`` protocol hands
it (the real backends have their own tests; end-to-end runs are in
tests/reliability/test_sync_log_target.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal

import pytest

from refiner_http import Redactor
from refiner_http.stops import RunInterruptedError, RunStoppedError
from target_refiner.mapping import ApiCall
from target_refiner.mapping_settings import StreamMapping
from target_refiner.progress import StreamCounts
from target_refiner.sync_log.recorder import (
    SyncLogError,
    SyncLogRecorder,
    call_action,
    new_run_record,
    settings_fingerprint,
    url_without_credentials,
)

SECRET = "sk-live-0123456789abcdef"  # noqa: S105 - a made-up key


class MemoryStore:
    """The protocol's calls, kept in lists (unit tests only)."""

    store_id = "memory"

    def __init__(self, stale: tuple[str, ...] = (), *, fail_log: bool = False) -> None:
        self.stale = list(stale)
        self.fail_log = fail_log
        self.started: list[str] = []
        self.changes: list[tuple[str, object]] = []
        self.batches = 0
        self.ended: list = []
        self.pruned: list[tuple[str, dt.datetime]] = []
        self.closed = False

    def start_run(self, run):
        self.started.append(run.run_id)
        return self.stale

    def log(self, run, changes, logged_at):  # noqa: ARG002
        if self.fail_log:
            msg = "disk full"
            raise OSError(msg)
        self.batches += 1
        self.changes.extend((run.run_id, c) for c in changes)

    def end_run(self, run):
        self.ended.append(run)

    def prune(self, project, before):
        self.pruned.append((project, before))
        return 0

    def close(self):
        self.closed = True


def recorder(store, *, dry_run=False) -> SyncLogRecorder:
    run = new_run_record(
        "proj-1", "20261207T000000Z-abc123", api_url="https://x", mappings={}, default_action=None
    )
    return SyncLogRecorder(
        store,
        run,
        Redactor([SECRET]),
        retention_days=30,
        dry_run=dry_run,
        log=logging.getLogger("test-sync-log"),
    )


def identify(user: str, email: str | None = None) -> ApiCall:
    ids = (f"id:{user}", *((f"email:{email}",) if email else ()))
    return ApiCall("identify", "POST", "/identify-user", f"id:{user}", identifiers=ids)


def test_stale_runs_are_reported_once_each(caplog):
    store = MemoryStore(stale=("run-a", "run-b"))
    with caplog.at_level(logging.WARNING, logger="test-sync-log"):
        rec = recorder(store)
    rec.finish(None, {}, {})
    rec.close()
    assert store.started == ["20261207T000000Z-abc123"]
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Sync log: run run-a ended without finishing; marked failed",
        "Sync log: run run-b ended without finishing; marked failed",
    ]


def test_each_kind_becomes_its_action_and_outcome():
    store = MemoryStore()
    rec = recorder(store)
    mapping = StreamMapping("identify", user_id=("id",), email=("mail",))
    rec.stream("users", ["id"], mapping)
    row = {"id": 1, "mail": "a@x.io", "plan": "pro"}
    rec.note("users", row, identify("1", "a@x.io"), "sent")
    rec.note("users", row, identify("1"), "skipped")
    rec.note("users", row, identify("1"), "replayed")
    rec.note("users", row, identify("1"), "rejected", status=422, message="too long")
    rec.note("users", row, None, "rejected", message="no user id")
    rec.note("users", row, identify("1"), "failed", message="gave up")
    rec.finish(None, {}, {})
    got = [
        (c.action, c.outcome, c.user_id, c.email, c.http_status, c.message)
        for _, c in store.changes
    ]
    assert got == [
        ("identify", "applied", "1", "a@x.io", None, None),
        ("unchanged", "applied", "1", None, None, None),
        ("replay", "applied", "1", None, None, None),
        ("identify", "rejected", "1", None, 422, "too long"),
        ("none", "rejected", "1", "a@x.io", None, "no user id"),  # from the mapped fields
        ("identify", "failed", "1", None, None, "gave up"),
    ]
    assert {c.row_key for _, c in store.changes} == {'{"id": 1}'}


def test_row_key_is_the_whole_row_without_key_properties_and_masks_secrets():
    store = MemoryStore()
    rec = recorder(store)
    rec.stream("events", [], None)
    rec.note("events", {"user": "u1", "note": f"key {SECRET}"}, None, "rejected", message=SECRET)
    rec.finish(None, {}, {})
    change = store.changes[0][1]
    assert json.loads(change.row_key) == {"user": "u1", "note": "key ***"}
    assert change.message == "***"


def test_a_batch_is_masked_row_by_row_only_where_a_secret_is():
    store = MemoryStore()
    rec = recorder(store)
    rec.stream("users", ["id"], None)
    rec.note("users", {"id": "u1"}, identify("u1", "a@x.io"), "sent")
    rec.note("users", {"id": f"u-{SECRET}"}, identify(f"u-{SECRET}", f"{SECRET}@x.io"), "sent")
    rec.note("users", {"id": "u3", "score": float("nan")}, None, "rejected", message=SECRET)
    rec.note("users", {"id": 4, "score": float("nan")}, identify("4"), "sent")
    rec.finish(None, {}, {})
    got = [(c.row_key, c.user_id, c.email, c.message) for _, c in store.changes]
    assert got == [
        ('{"id": "u1"}', "u1", "a@x.io", None),
        ('{"id": "u-***"}', "u-***", "***@x.io", None),
        ('{"id": "u3"}', None, None, "***"),
        ('{"id": 4}', "4", None, None),
    ]


def test_a_row_key_holding_a_nan_is_written_as_the_dead_letter_file_writes_it():
    store = MemoryStore()
    rec = recorder(store)
    rec.stream("events", [], None)
    rec.note("events", {"user": "u1", "score": float("nan")}, None, "rejected", message="no id")
    rec.finish(None, {}, {})
    row_key = json.loads(store.changes[0][1].row_key)
    assert (row_key["user"], row_key["score"]) == ("u1", "NaN")


def test_mirror_calls_are_named_by_their_method():
    add = ApiCall("mirror_segment", "POST", "/segments/x", "id:1")
    remove = ApiCall("mirror_segment", "DELETE", "/segments/x", "id:1")
    assert (call_action(add), call_action(remove), call_action(None)) == (
        "mirror_add",
        "mirror_remove",
        "none",
    )
    assert call_action(ApiCall("add_to_segment", "POST", "/x", "id:1")) == "segment_add"
    assert call_action(ApiCall("delete_contact", "DELETE", "/x", "id:1")) == "delete"


def test_many_rows_are_written_in_few_batches():
    store = MemoryStore()
    rec = recorder(store)
    call = identify("1")
    rec.note_all(("users", {"id": n}, call, "skipped", None, None) for n in range(12_000))
    rec.finish(None, {}, {})
    assert len(store.changes) == 12_000
    assert store.batches <= 4


@pytest.mark.parametrize(
    ("ending", "dry_run", "expected"),
    [
        (None, False, ("finished", 0, None)),
        (None, True, ("dry_run", 0, None)),
        (RunInterruptedError(signal.SIGTERM, "Interrupted by SIGTERM"), False,
         ("interrupted", 143, "Interrupted by SIGTERM")),
        (RunStoppedError(f"Cannot use key {SECRET}"), False,
         ("failed", 1, "Cannot use key ***")),
    ],
)  # fmt: skip
def test_the_end_records_status_exit_code_stop_line_and_counts(ending, dry_run, expected):
    store = MemoryStore()
    rec = recorder(store, dry_run=dry_run)
    counts = StreamCounts(rows_in=5, sent=1, skipped=2, replayed=1, rejected=1)
    rec.finish(ending, {"users": counts}, {"seg": {"members": 3, "adds": 1}})
    rec.close()
    (run,) = store.ended
    assert (run.status, run.exit_code, run.message) == expected
    assert run.streams == {
        "users": {"rows_in": 5, "sent": 1, "unchanged": 2, "replays": 1, "rejected": 1}
    }
    assert run.mirror == {"seg": {"members": 3, "adds": 1}}
    assert store.pruned == [("proj-1", run.finished_at - dt.timedelta(days=30))]
    assert store.closed


def test_a_store_that_cannot_be_written_stops_the_run():
    store = MemoryStore(fail_log=True)
    rec = recorder(store)
    rec.note("users", {"id": 1}, identify("1"), "sent")
    with pytest.raises(SyncLogError, match=r"Cannot write the sync log.*disk full"):
        rec.finish(None, {}, {})
    with pytest.raises(SyncLogError):
        rec.note("users", {"id": 2}, identify("2"), "sent")


def test_the_fingerprint_names_no_credentials():
    assert url_without_credentials("https://ann:pw@api.x.io:8443/v1?token=t") == (
        "https://api.x.io:8443/v1"
    )
    run = new_run_record(
        "p", "r", api_url="https://ann:pw@api.x.io/", mappings={"a": {}}, default_action="identify"
    )
    assert run.api_url == "https://api.x.io/"
    assert run.settings_fingerprint == settings_fingerprint(
        {"a": {}}, "identify", "https://api.x.io/"
    )
    assert run.settings_fingerprint != settings_fingerprint({"b": {}}, "identify", run.api_url)
