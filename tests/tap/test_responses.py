"""responses: ascending date windows, filters, both timestamp formats, gap-free resume."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest
import requests

from tap_refiner import schemas
from tap_refiner.incremental import WindowedResponsesStream
from tap_refiner.timestamps import parse
from tests.tap.taprun import api_items, run_tap

START = "2026-03-01T00:00:00Z"


def response_calls(emu):
    return [c for c in emu.calls(path="/v1/responses") if c["method"] == "GET"]


def windows_of(calls):
    """Distinct (start, end) windows in request order."""
    seen: list[tuple[str, str]] = []
    for call in calls:
        bounds = (call["params"].get("date_range_start"), call["params"].get("date_range_end"))
        if bounds not in seen:
            seen.append(bounds)
    return seen


def test_windows_ascend_contiguously_and_bookmark_is_last_end(emu):
    expected = {r["uuid"] for r in api_items(emu, "/responses", date_range_start=START)}
    emu.reset()
    run = run_tap(
        emu,
        ["responses"],
        start_date=START,
        responses_window_days=20,
        page_length=50,
        max_concurrent_requests=1,  # the emulator logs windows in the order they are read
    )
    records = run.records("responses")
    assert {r["uuid"] for r in records} == expected
    assert len(records) == len(expected)  # each response once
    windows = windows_of(response_calls(emu))
    assert windows[0][0] == START
    assert len(windows) >= 13  # 2026-03-01 .. now in 20-day steps
    for (_, end), (start, _) in itertools.pairwise(windows):
        assert end == start
    starts = [parse(w[0]) for w in windows]
    assert starts == sorted(starts)
    bookmark = run.last_state["bookmarks"]["responses"]
    assert bookmark["replication_key"] == "last_data_reception_at"
    assert parse(bookmark["replication_key_value"]) == parse(windows[-1][1])
    assert "progress_markers" not in bookmark
    # STATE after every window: one bookmark per window end
    ends = {
        s["bookmarks"]["responses"].get("replication_key_value")
        for s in run.states
        if "responses" in s.get("bookmarks", {})
    }
    assert {parse(w[1]) for w in windows} <= {parse(e) for e in ends if e}


def test_windows_page_fully_newest_first(emu):
    run_tap(emu, ["responses"], start_date=START, responses_window_days=60, page_length=25)
    calls = response_calls(emu)
    by_window: dict[tuple, list] = {}
    for call in calls:
        key = (call["params"]["date_range_start"], call["params"]["date_range_end"])
        by_window.setdefault(key, []).append(call)
    assert any(len(v) > 1 for v in by_window.values())
    for window_calls in by_window.values():
        assert "page_cursor" not in window_calls[0]["params"]
        assert all("page_cursor" in c["params"] for c in window_calls[1:])


def test_first_run_without_start_date_finds_the_oldest_response(emu):
    expected = {r["uuid"] for r in api_items(emu, "/responses")}
    emu.reset()
    run = run_tap(emu, ["responses"], max_concurrent_requests=1)  # calls logged in read order
    assert {r["uuid"] for r in run.records("responses")} == expected
    calls = response_calls(emu)
    assert calls[0]["params"]["page_length"] == "1"  # the probe for the oldest response
    windows = [w for w in windows_of(calls) if w[0]]
    # the guess is never trusted alone: a catch-all window first, then from the oldest day on
    assert windows[0][0] == "1970-01-01T00:00:00Z"
    assert windows[0][1] == "2026-03-11T00:00:00Z"  # oldest response's day
    assert windows[1][0] == "2026-03-11T00:00:00Z"


def test_records_conform_and_keep_open_objects(emu):
    raw = {r["uuid"]: r for r in api_items(emu, "/responses", with_attributes=1)}
    run = run_tap(emu, ["responses"], start_date=START, with_attributes=True)
    validator = jsonschema.Draft7Validator(schemas.RESPONSES)
    records = run.records("responses")
    assert records
    for record in records:
        validator.validate(record)
        source = raw[record["uuid"]]
        assert record["data"] == source["data"]
        assert record["contact"]["attributes"] == source["contact"]["attributes"]
        assert record["form_uuid"] == source["form"]["uuid"]
    assert all(isinstance(r["contact"]["attributes"], dict) for r in records)
    assert all(c["params"]["with_attributes"] == "1" for c in response_calls(emu))


def test_without_attributes_not_sent(emu):
    run_tap(emu, ["responses"], start_date=START)
    assert all("with_attributes" not in c["params"] for c in response_calls(emu))


@pytest.mark.parametrize("include", ["completed", "partials", "all"])
def test_include(emu, include):
    expected = {r["uuid"] for r in api_items(emu, "/responses", include=include)}
    emu.reset()
    run = run_tap(emu, ["responses"], start_date=START, responses_include=include)
    assert {r["uuid"] for r in run.records("responses")} == expected
    assert all(c["params"]["include"] == include for c in response_calls(emu))
    if include == "completed":
        assert all(r["completed_at"] for r in run.records("responses"))


def test_form_uuids(emu):
    forms = [f["uuid"] for f in api_items(emu, "/forms")][:2]
    expected = {r["uuid"] for r in api_items(emu, "/responses", **{"form_uuids[]": forms})}
    emu.reset()
    run = run_tap(emu, ["responses"], start_date=START, form_uuids=forms)
    records = run.records("responses")
    assert {r["uuid"] for r in records} == expected
    assert {r["form_uuid"] for r in records} <= set(forms)
    assert all(c["params"]["form_uuids"] == forms for c in response_calls(emu))


def test_both_timestamp_formats_give_identical_records(emu):
    iso = run_tap(emu, ["responses"], start_date=START).records("responses")
    emu.configure(timestamp_format="plain")
    raw = api_items(emu, "/responses")
    assert " " in raw[0]["last_data_reception_at"]  # the emulator really sends the plain form
    plain = run_tap(emu, ["responses"], start_date=START).records("responses")
    assert plain == iso
    assert all(r["last_data_reception_at"].endswith(".000000Z") for r in plain)


def _store_late_response(emu, when: datetime) -> str:
    form = api_items(emu, "/forms")[0]["uuid"]
    reply = requests.post(
        emu.api_url + "/responses",
        json={
            "form_uuid": form,
            "id": "late-user",
            "date": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "nps": 10,
        },
        headers={"Authorization": f"Bearer {emu.api_key}"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["uuid"])


def test_resume_rereads_the_lookback_and_catches_late_responses(emu):
    first = run_tap(emu, ["responses"], start_date=START)
    state = first.last_state
    bookmark = parse(state["bookmarks"]["responses"]["replication_key_value"])
    late = _store_late_response(emu, bookmark - timedelta(hours=3))
    emu.reset()  # clear the call log, keep the data
    second = run_tap(emu, ["responses"], state=state, start_date=START)
    assert late in {r["uuid"] for r in second.records("responses")}
    first_window = windows_of(response_calls(emu))[0]
    assert parse(first_window[0]) == bookmark - timedelta(hours=24)
    assert all(
        parse(r["last_data_reception_at"]) >= bookmark - timedelta(hours=24)
        for r in second.records("responses")
    )


def test_interrupted_sync_resumes_without_gap(emu, sleeps, monkeypatch):
    """The 2nd window fails for good; the resumed run misses nothing, late data included."""
    expected = {r["uuid"] for r in api_items(emu, "/responses", date_range_start=START)}
    original = WindowedResponsesStream._complete_window  # noqa: SLF001 - the seam under test
    completed: list[datetime] = []

    def complete_then_break(self, context, window):
        original(self, context, window)
        completed.append(window.end)
        if len(completed) == 1:
            emu.fault(503, count=50, path="/v1/responses")

    monkeypatch.setattr(WindowedResponsesStream, "_complete_window", complete_then_break)
    first = run_tap(
        emu,
        ["responses"],
        start_date=START,
        responses_window_days=45,
        max_tries=3,
        max_concurrent_requests=1,  # no window read ahead of the one that breaks
        expect_error=True,
    )
    monkeypatch.setattr(WindowedResponsesStream, "_complete_window", original)
    assert "503" in str(first.error)
    assert len([w for w in sleeps if w > 0.01]) == 2  # 3 tries, 2 backoff waits
    state = first.last_state
    saved = parse(state["bookmarks"]["responses"]["replication_key_value"])
    assert saved == completed[0] == parse(START) + timedelta(days=45)

    emu.reset()  # drop the remaining faults, keep the data
    late = _store_late_response(emu, saved - timedelta(hours=2))  # inside the lookback
    second = run_tap(emu, ["responses"], state=state, start_date=START, responses_window_days=45)
    got = {r["uuid"] for r in first.records("responses")} | {
        r["uuid"] for r in second.records("responses")
    }
    assert expected | {late} <= got
    now = datetime.now(timezone.utc)
    final = parse(second.last_state["bookmarks"]["responses"]["replication_key_value"])
    assert abs((now - final).total_seconds()) < 120
