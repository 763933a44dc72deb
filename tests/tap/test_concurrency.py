"""Requests run ahead, output unchanged: the same messages as one request at a time, no re-reads.

Against the emulator, in-process. ``max_concurrent_requests: 1`` is the sequential reference;
every concurrent run must write the same RECORD and STATE messages in the same order. Also:
``reports`` re-reads only its lookback after the first run and never moves its bookmark past
unread days; ``answers`` reuses the windows ``responses`` read.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tap_refiner.streams import ReportsStream
from tap_refiner.timestamps import parse
from tests.tap.taprun import Run, run_tap

START = "2026-03-01T00:00:00Z"
#: Many windows of several pages, and several report days: plenty to run ahead.
SETTINGS: dict[str, Any] = {
    "start_date": START,
    "responses_window_days": 15,
    "page_length": 20,
    "reports_days": 4,
    "report_types": ["nps", "csat"],
}
STREAMS = ["responses", "answers", "forms", "questions", "reports"]


def comparable(run: Run) -> list[Any]:
    """The run's messages with what depends on when it ran (its "now") made equal."""
    assert run.started_at is not None
    started = run.started_at

    def near_start(text: str) -> bool:
        try:
            return abs((parse(text) - started).total_seconds()) < 5
        except ValueError:
            return False

    def same_now(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: same_now(v) for k, v in value.items() if k != "time_extracted"}
        if isinstance(value, list):
            return [same_now(v) for v in value]
        if isinstance(value, str) and len(value) >= 19 and near_start(value):
            return "<the run's start>"
        return value

    return [same_now(m) for m in run.messages]


def response_calls(emu) -> list[dict[str, Any]]:
    return [c for c in emu.calls(path="/v1/responses") if c["method"] == "GET"]


def days_back(*offsets: int) -> list[str]:
    today = datetime.now(timezone.utc).date()
    return [(today - timedelta(days=n)).isoformat() for n in offsets]


@pytest.mark.parametrize("workers", [2, 16])
def test_a_concurrent_run_writes_exactly_what_a_sequential_run_writes(emu, workers):
    sequential = run_tap(emu, STREAMS, max_concurrent_requests=1, **SETTINGS)
    emu.reset()
    concurrent = run_tap(emu, STREAMS, max_concurrent_requests=workers, **SETTINGS)
    for stream in STREAMS:
        assert concurrent.records(stream), stream
    windows = {
        (c["params"]["date_range_start"], c["params"]["date_range_end"])
        for c in response_calls(emu)
    }
    assert len(windows) > workers  # more windows than threads: some were read ahead
    assert comparable(concurrent) == comparable(sequential)
    types = [m["type"] for m in concurrent.messages]
    # the last STATE comes after every record (a stream written in turns with another gets a
    # second SCHEMA when the SDK reaches it, and nothing else)
    assert types.index("STATE", max(i for i, t in enumerate(types) if t == "RECORD")) > 0


def test_a_repeat_run_reports_only_the_lookback(emu):
    settings = {"reports_days": 10, "report_types": ["nps"]}
    first = run_tap(emu, ["reports"], **settings)
    forms = {r["form_uuid"] for r in first.records("reports")}
    assert sorted({r["date"] for r in first.records("reports")}) == days_back(*range(9, -1, -1))
    bookmark = first.last_state["bookmarks"]["reports"]
    assert bookmark == {
        "replication_key": "date",
        "replication_key_value": days_back(0)[0],
        "filters": {"report_types": ["nps"]},
    }
    emu.reset()
    second = run_tap(emu, ["reports"], state=first.last_state, **settings)
    rows = second.records("reports")
    assert sorted({r["date"] for r in rows}) == days_back(2, 1, 0)  # the default lookback: 3
    assert len(rows) == len(forms) * 3
    assert len(emu.calls(path="/v1/reporting")) == len(forms) * 3
    assert second.last_state["bookmarks"]["reports"] == bookmark


@pytest.mark.parametrize(
    ("bookmark_days_ago", "lookback", "expected"),
    [
        (5, 3, days_back(7, 6, 5, 4, 3, 2, 1, 0)),  # from the bookmark's day - 2, up to today
        (400, 3, days_back(*range(9, -1, -1))),  # never more than reports_days back
        (0, 1, days_back(0)),  # lookback 1: today again, nothing else
        (-3, 2, days_back(1, 0)),  # a bookmark ahead of today's clock still re-reads up to today
    ],
)
def test_later_runs_start_at_the_bookmark_day_less_the_lookback(
    emu, bookmark_days_ago, lookback, expected
):
    day = datetime.now(timezone.utc).date() - timedelta(days=bookmark_days_ago)
    state = {
        "bookmarks": {
            "reports": {"replication_key": "date", "replication_key_value": day.isoformat()}
        }
    }
    run = run_tap(
        emu,
        ["reports"],
        state=state,
        reports_days=10,
        reports_lookback_days=lookback,
        report_types=["nps"],
    )
    assert sorted({r["date"] for r in run.records("reports")}) == expected


def test_a_reports_run_stopped_midway_leaves_the_bookmark_where_it_was(emu, monkeypatch):
    """STATE mid-stream (every 4 rows here) never moves the bookmark: resuming reads it all."""
    settings = {"reports_days": 10, "report_types": ["nps", "csat"]}
    previous = days_back(5)[0]
    state = {
        "bookmarks": {"reports": {"replication_key": "date", "replication_key_value": previous}}
    }
    monkeypatch.setattr(ReportsStream, "STATE_MSG_FREQUENCY", 4)
    original = ReportsStream._report  # noqa: SLF001 - the seam where the API breaks
    asked: list[dict[str, str]] = []

    def report_then_break(self, key):
        asked.append(key)
        if len(asked) == 40:
            emu.fault(503, count=10_000, path="/v1/reporting")
        return original(self, key)

    monkeypatch.setattr(ReportsStream, "_report", report_then_break)
    first = run_tap(emu, ["reports"], state=state, max_tries=1, expect_error=True, **settings)
    monkeypatch.setattr(ReportsStream, "_report", original)
    assert "503" in str(first.error)
    assert first.records("reports")  # some rows were written, with STATE messages among them
    assert any("progress_markers" in s["bookmarks"]["reports"] for s in first.states)
    for written in first.states:
        assert written["bookmarks"]["reports"]["replication_key_value"] == previous

    emu.reset()  # the API works again
    second = run_tap(emu, ["reports"], state=first.last_state, **settings)
    expected = days_back(7, 6, 5, 4, 3, 2, 1, 0)
    assert sorted({r["date"] for r in second.records("reports")}) == expected
    keys = {(r["form_uuid"], r["type"], r["date"]) for r in second.records("reports")}
    forms = {r["form_uuid"] for r in second.records("reports")}
    assert keys == {(f, t, d) for f in forms for t in ("nps", "csat") for d in expected}


@pytest.mark.parametrize("settings", [SETTINGS, {}], ids=["start_date", "first_run_probe"])
def test_answers_beside_responses_cost_no_second_pass_and_give_the_same_rows(emu, settings):
    answers_alone = run_tap(emu, ["answers"], **settings)
    alone_calls = len(response_calls(emu))
    emu.reset()
    responses_alone = run_tap(emu, ["responses"], **settings)
    responses_calls = len(response_calls(emu))
    emu.reset()
    both = run_tap(emu, ["responses", "answers"], **settings)
    assert both.records("answers")
    assert both.records("answers") == answers_alone.records("answers")
    assert both.records("responses") == responses_alone.records("responses")
    assert alone_calls == responses_calls
    assert len(response_calls(emu)) == responses_calls  # answers read no window again
    bookmarks = both.last_state["bookmarks"]
    assert (
        bookmarks["answers"]["replication_key_value"]
        == (
            bookmarks["responses"]["replication_key_value"]  # both read up to the run's one "now"
        )
    )


def test_answers_on_another_bookmark_read_their_own_windows(emu):
    settings = {"start_date": START, "responses_window_days": 20, "page_length": 50}
    state = {
        "bookmarks": {
            "responses": {
                "replication_key": "last_data_reception_at",
                "replication_key_value": "2026-09-01T00:00:00.000000Z",
            },
            "answers": {
                "replication_key": "answered_at",
                "replication_key_value": "2026-05-15T12:00:00.000000Z",
            },
        }
    }
    both = run_tap(emu, ["responses", "answers"], state=state, **settings)
    responses_alone = run_tap(emu, ["responses"], state=state, **settings)
    answers_alone = run_tap(emu, ["answers"], state=state, **settings)
    assert both.records("responses") == responses_alone.records("responses")
    assert both.records("answers") == answers_alone.records("answers")
    answered = {a["response_uuid"] for a in both.records("answers")}
    assert answered > {r["uuid"] for r in both.records("responses")}  # from May, not September


def test_a_follower_in_turns_runs_no_pool_of_its_own(emu):
    """``answers`` written in turns with ``responses`` takes the windows ``responses`` read, so
    it starts no reading threads: the run holds one pool, not two idle-beside-busy (issue 18:
    34 threads at 200k responses, now 18)."""
    names: set[str] = set()
    most = [0]  # reading threads alive at once (two pools name their threads alike)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            alive = [t.name for t in threading.enumerate() if t.name.startswith("tap-")]
            names.update(alive)
            most[0] = max(most[0], sum(n.startswith("tap-refiner-fetch") for n in alive))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        both = run_tap(emu, ["responses", "answers"], **SETTINGS, max_concurrent_requests=2)
    finally:
        done.set()
        sampler.join()
    assert both.records("answers")
    assert "tap-refiner-follower" in names  # they did write in turns
    assert most[0] == 2  # the leader's pool only
