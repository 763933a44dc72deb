"""What every sync-log backend promises (``SyncLogStore``): one set of tests, run per backend.

A test module subclasses :class:`SyncLogContract` and gives a ``backend`` fixture: an object
with ``open()`` (a store on the same database each time) and ``rows(sql)`` (every row of a
query, with JSON as compact text and times as ISO 8601 ``Z`` text, whatever the backend keeps).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from refiner_stores import StoreError
from refiner_stores.sync_log import (
    APPLIED,
    FAILED,
    FINISHED,
    IDENTIFY,
    REJECTED,
    RUNNING,
    UNCHANGED,
)
from target_refiner.sync_log.records import Change, RunRecord

DAY0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def day(n: float) -> dt.datetime:
    return DAY0 + dt.timedelta(days=n)


def run_record(run_id: str, started: dt.datetime, project: str = "p1") -> RunRecord:
    return RunRecord(
        project=project,
        run_id=run_id,
        started_at=started,
        settings_fingerprint="f" * 64,
        api_url="http://refiner.test/v1",
        host="runner",
        pid=4242,
    )


def ended(run: RunRecord, at: dt.datetime, status: str = FINISHED) -> RunRecord:
    run.status = status
    run.finished_at = at
    run.exit_code = 0
    run.streams = {"users": {"rows_in": 3, "sent": 1, "unchanged": 1, "replays": 0, "rejected": 1}}
    return run


def change(key: int, outcome: str = APPLIED, stream: str = "users", **more) -> Change:
    return Change(
        stream=stream,
        row_key=json.dumps({"id": key}, separators=(",", ":")),
        user_id=f"u{key}",
        email=None,
        action=more.pop("action", IDENTIFY),
        outcome=outcome,
        **more,
    )


def keys(count: int, outcome: str = APPLIED) -> list[Change]:
    return [change(n, outcome) for n in range(count)]


class SyncLogContract:
    """The ``SyncLogStore`` contract; subclasses provide the ``backend`` fixture."""

    @pytest.fixture
    def store(self, backend):
        store = backend.open()
        yield store
        store.close()

    def test_seq_rises_in_commit_order_and_a_rewrite_takes_a_new_one(self, backend, store):
        run = run_record("r1", day(0))
        assert store.start_run(run) == []
        store.log(run, keys(3), day(0))
        store.log(run, [change(0, REJECTED, http_status=422, message="bad email")], day(0.1))
        started_seq = backend.rows("SELECT seq FROM refiner_sync_runs")[0][0]
        store.end_run(ended(run, day(0.2)))
        assert backend.rows("SELECT seq, status, exit_code FROM refiner_sync_runs") == [
            (started_seq + 1, FINISHED, 0)
        ]
        logged = backend.rows(
            "SELECT seq, row_key, outcome, message FROM refiner_sync_changelog ORDER BY seq"
        )
        assert [row[1:] for row in logged] == [
            ('{"id":0}', APPLIED, None),
            ('{"id":1}', APPLIED, None),
            ('{"id":2}', APPLIED, None),
            ('{"id":0}', REJECTED, "bad email"),
        ]
        seqs = [row[0] for row in logged]
        assert seqs == sorted(set(seqs))
        snapshot = backend.rows(
            "SELECT seq, row_key, outcome FROM refiner_sync_snapshot ORDER BY seq"
        )
        # Key 0 was rewritten by the last batch: it moved past keys 1 and 2, with that row's seq.
        assert snapshot == [
            (seqs[1], '{"id":1}', APPLIED),
            (seqs[2], '{"id":2}', APPLIED),
            (seqs[3], '{"id":0}', REJECTED),
        ]

    def test_run_row_keeps_what_the_run_said(self, backend, store):
        run = run_record("r1", day(0))
        store.start_run(run)
        run.mirror = {"seg-1": {"members": 2, "adds": 1, "removes": 0}}
        store.end_run(ended(run, day(0.5), status=FAILED))
        (row,) = backend.rows(
            "SELECT run_id, started_at, finished_at, status, streams, mirror, pid"
            " FROM refiner_sync_runs"
        )
        assert row == (
            "r1",
            "2026-01-01T00:00:00.000000Z",
            "2026-01-01T12:00:00.000000Z",
            FAILED,
            '{"users":{"rejected":1,"replays":0,"rows_in":3,"sent":1,"unchanged":1}}',
            '{"seg-1":{"adds":1,"members":2,"removes":0}}',
            4242,
        )

    def test_snapshot_holds_the_latest_outcome_per_key(self, backend, store):
        run = run_record("r1", day(0))
        store.start_run(run)
        # The same key twice in one batch, and again in a later batch of another stream.
        store.log(run, [change(7, REJECTED), change(8), change(7, APPLIED)], day(0))
        store.log(run, [change(7, outcome=APPLIED, action=UNCHANGED, stream="other")], day(1))
        last_of = {
            (stream, key): seq
            for stream, key, seq in backend.rows(
                "SELECT stream, row_key, MAX(seq) FROM refiner_sync_changelog"
                " GROUP BY stream, row_key"
            )
        }
        snapshot = backend.rows(
            "SELECT stream, row_key, seq, outcome, action FROM refiner_sync_snapshot ORDER BY seq"
        )
        assert snapshot == [
            ("users", '{"id":8}', last_of["users", '{"id":8}'], APPLIED, IDENTIFY),
            ("users", '{"id":7}', last_of["users", '{"id":7}'], APPLIED, IDENTIFY),
            ("other", '{"id":7}', last_of["other", '{"id":7}'], APPLIED, UNCHANGED),
        ]

    def test_start_run_marks_the_projects_stale_running_runs_failed(self, backend):
        died = backend.open()
        died.start_run(run_record("killed", day(0)))
        died.start_run(run_record("elsewhere", day(0), project="p2"))
        died.close()  # no end_run: the process was killed
        store = backend.open()
        try:
            assert store.start_run(run_record("next", day(1))) == ["killed"]
        finally:
            store.close()
        rows = backend.rows(
            "SELECT run_id, status, finished_at, message FROM refiner_sync_runs ORDER BY seq"
        )
        assert [row[:3] for row in rows] == [
            ("elsewhere", RUNNING, None),  # another project's run is not this one's to judge
            ("killed", FAILED, None),
            ("next", RUNNING, None),
        ]
        assert "ended without finishing" in rows[1][3]
        assert "next" in rows[1][3]

    def test_prune_drops_old_runs_and_changes_and_keeps_the_snapshot(self, backend, store):
        for n in range(3):
            run = run_record(f"r{n}", day(n))
            store.start_run(run)
            store.log(run, [change(n), change(100)], day(n))
            store.end_run(ended(run, day(n + 0.5)))
        other = run_record("other", day(0), project="p2")
        store.start_run(other)
        store.log(other, [change(0)], day(0))
        assert store.prune("p1", day(2)) == 2 + 4
        assert backend.rows("SELECT run_id FROM refiner_sync_runs ORDER BY seq") == [
            ("r2",),
            ("other",),
        ]
        assert backend.rows("SELECT project, run_id FROM refiner_sync_changelog ORDER BY seq") == [
            ("p1", "r2"),
            ("p1", "r2"),
            ("p2", "other"),
        ]
        snapshot = backend.rows(
            "SELECT project, row_key, run_id FROM refiner_sync_snapshot ORDER BY seq"
        )
        assert snapshot == [
            ("p1", '{"id":0}', "r0"),
            ("p1", '{"id":1}', "r1"),
            ("p1", '{"id":2}', "r2"),
            ("p1", '{"id":100}', "r2"),
            ("p2", '{"id":0}', "other"),
        ]
        # Everything is past retention: the newest run stays, seq continues from it.
        assert store.prune("p1", day(30)) == 2
        assert backend.rows("SELECT run_id FROM refiner_sync_runs WHERE project = 'p1'") == [
            ("r2",)
        ]

    def test_prune_deletes_in_chunks_until_nothing_old_is_left(self, backend, store):
        run = run_record("r1", day(0))
        store.start_run(run)
        store.log(run, keys(10), day(0))
        store.log(run, keys(2), day(1))
        store.prune_chunk = 3
        assert store.prune("p1", day(1)) == 10
        assert backend.rows("SELECT COUNT(*) FROM refiner_sync_changelog") == [(2,)]

    def test_seq_never_restarts_after_everything_old_is_pruned(self, backend, store):
        run = run_record("r1", day(0))
        store.start_run(run)
        store.log(run, keys(5), day(0))
        store.end_run(ended(run, day(0)))
        last_run = backend.rows("SELECT MAX(seq) FROM refiner_sync_runs")[0][0]
        last_change = backend.rows("SELECT MAX(seq) FROM refiner_sync_changelog")[0][0]
        store.prune("p1", day(30))
        assert backend.rows("SELECT COUNT(*) FROM refiner_sync_changelog") == [(0,)]
        store.close()
        store = backend.open()  # a new process: nothing kept in memory
        try:
            run = run_record("r2", day(31))
            store.start_run(run)
            store.log(run, keys(1), day(31))
        finally:
            store.close()
        assert backend.rows("SELECT run_id, seq FROM refiner_sync_runs ORDER BY seq") == [
            ("r1", last_run),
            ("r2", last_run + 1),
        ]
        assert backend.rows("SELECT seq FROM refiner_sync_changelog")[0][0] > last_change
        assert backend.rows("SELECT seq FROM refiner_sync_snapshot WHERE row_key = '{\"id\":0}'")[
            0
        ][0] > (last_change)

    def test_a_batch_that_fails_leaves_nothing_behind(self, backend, store):
        run = run_record("r1", day(0))
        store.start_run(run)
        broken = Change("users", '{"id":1}', "u1", None, None, APPLIED)
        with pytest.raises(StoreError, match=r"(?i)sync log"):
            store.log(run, [*keys(1000), broken], day(0))
        assert backend.rows("SELECT COUNT(*) FROM refiner_sync_changelog") == [(0,)]
        assert backend.rows("SELECT COUNT(*) FROM refiner_sync_snapshot") == [(0,)]
        store.log(run, keys(2), day(0))  # the store is still usable
        assert backend.rows("SELECT COUNT(*) FROM refiner_sync_snapshot") == [(2,)]

    def test_a_batch_is_stored_in_order_and_as_given_whatever_the_characters(self, backend, store):
        odd = 'quote " backslash \\ tab \t newline \n é 中文 😀 \u2028 a literal \\u0000 '
        run = run_record("r1", day(0))
        store.start_run(run)
        given = [
            Change(
                "users", json.dumps({"id": odd}), odd, f"{odd}@x.io", IDENTIFY, REJECTED, 422, odd
            ),
            *keys(2000),
            Change("events", '{"n":1.5}', None, None, UNCHANGED, APPLIED),
        ]
        store.log(run, given, day(0))
        stored = backend.rows(
            "SELECT stream, row_key, user_id, email, action, outcome, http_status, message"
            " FROM refiner_sync_changelog ORDER BY seq"
        )
        assert [(r[0], json.loads(r[1]), *r[2:]) for r in stored] == [
            (c.stream, json.loads(c.row_key), *c[2:]) for c in given
        ]

    def test_a_nul_character_is_written_visibly_as_its_escape(self, backend, store):
        run = run_record("r1", day(0))
        store.start_run(run)
        nul = Change("users", '{"id":1}', "u\x001", None, IDENTIFY, REJECTED, 422, "cut\x00here")
        store.log(run, [nul], day(0))
        assert backend.rows("SELECT user_id, message FROM refiner_sync_changelog") == [
            ("u\\u00001", "cut\\u0000here")
        ]

    def test_store_id_is_made_once(self, backend, store):
        again = backend.open()
        try:
            assert again.store_id == store.store_id
        finally:
            again.close()
        assert len(store.store_id) == 36
