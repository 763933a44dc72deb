"""A bookmark records its filters; what a changed filter adds is read from the start.

Against the emulator, in-process: the second run resumes from the first run's last STATE with
changed settings, and must write every row the new filters let in (the emulator's own listing
is the truth), with the same messages at any ``max_concurrent_requests``.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pytest

from tap_refiner.timestamps import parse
from tests.reliability.target_processes import BreakingProxy
from tests.tap.taprun import api_items, run_tap
from tests.tap.test_concurrency import comparable, days_back, response_calls

START = "2026-03-01T00:00:00Z"
SETTINGS: dict[str, Any] = {"start_date": START, "responses_window_days": 15}
STREAMS = ["responses", "answers"]


def since_start(
    responses: list[dict[str, Any]], field: str = "last_data_reception_at"
) -> list[dict[str, Any]]:
    """Those the API's date filter keeps from ``START`` (``include=all`` filters on last shown)."""
    return [r for r in responses if r[field] and parse(r[field]) >= parse(START)]


def two_surveys(emu) -> tuple[str, str]:
    """The two surveys with the most completed responses since ``START``."""
    counts = Counter(r["form"]["uuid"] for r in since_start(api_items(emu, "/responses")))
    (a, _), (b, _) = counts.most_common(2)
    return a, b


def oldest_window_start(emu) -> str:
    return min(c["params"]["date_range_start"] for c in response_calls(emu))


def test_a_survey_added_to_form_uuids_is_read_from_the_start_at_any_concurrency(emu, caplog):
    a, b = two_surveys(emu)
    first = run_tap(emu, STREAMS, form_uuids=[a], **SETTINGS)
    assert {r["form_uuid"] for r in first.records("responses")} == {a}
    runs = {}
    for workers in (1, 16):
        emu.reset()
        with caplog.at_level(logging.WARNING):
            runs[workers] = run_tap(
                emu,
                STREAMS,
                state=first.last_state,
                form_uuids=[b, a],
                max_concurrent_requests=workers,
                **SETTINGS,
            )
    assert comparable(runs[1]) == comparable(runs[16])
    second = runs[16]
    wanted = {
        r["uuid"] for r in since_start(api_items(emu, "/responses")) if r["form"]["uuid"] == b
    }
    assert wanted <= {r["uuid"] for r in second.records("responses")}
    answered = {r["response_uuid"] for r in second.records("answers")}
    assert answered & wanted
    for stream in STREAMS:
        recorded = second.last_state["bookmarks"][stream]["filters"]
        assert recorded == {"responses_include": "completed", "form_uuids": sorted([a, b])}
    assert any(
        "Setting `form_uuids` adds" in r.getMessage() and b in r.getMessage()
        for r in caplog.records
    )
    # The catch-up asked for the added survey only; the usual windows for both.
    emu.reset()
    third = run_tap(emu, STREAMS, state=second.last_state, form_uuids=[a, b], **SETTINGS)
    assert oldest_window_start(emu) > START  # nothing to catch up any more
    assert third.last_state["bookmarks"]["responses"]["filters"]["form_uuids"] == sorted([a, b])


def test_a_survey_removed_needs_no_re_read(emu):
    a, b = two_surveys(emu)
    first = run_tap(emu, STREAMS, form_uuids=[a, b], **SETTINGS)
    emu.reset()
    second = run_tap(emu, STREAMS, state=first.last_state, form_uuids=[a], **SETTINGS)
    assert oldest_window_start(emu) > START
    assert {r["form_uuid"] for r in second.records("responses")} <= {a}
    assert second.last_state["bookmarks"]["responses"]["filters"]["form_uuids"] == [a]


def test_widening_responses_include_re_reads_from_the_start(emu, caplog):
    first = run_tap(emu, ["responses"], **SETTINGS)
    emu.reset()
    with caplog.at_level(logging.WARNING):
        second = run_tap(
            emu, ["responses"], state=first.last_state, responses_include="all", **SETTINGS
        )
    everything = {
        r["uuid"] for r in since_start(api_items(emu, "/responses", include="all"), "last_shown_at")
    }
    assert everything <= {r["uuid"] for r in second.records("responses")}
    assert second.last_state["bookmarks"]["responses"]["filters"]["responses_include"] == "all"
    assert any("Setting `responses_include` is 'all'" in r.getMessage() for r in caplog.records)


def test_a_bookmark_without_filters_adopts_the_current_ones_with_an_info_line(emu, caplog):
    first = run_tap(emu, ["responses"], **SETTINGS)
    legacy = first.last_state
    del legacy["bookmarks"]["responses"]["filters"]
    emu.reset()
    with caplog.at_level(logging.INFO):
        second = run_tap(emu, ["responses"], state=legacy, **SETTINGS)
    assert oldest_window_start(emu) > START  # resumed as before: no re-read on upgrade
    assert second.last_state["bookmarks"]["responses"]["filters"] == {
        "responses_include": "completed",
        "form_uuids": None,
    }
    assert any("does not say which filters" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("workers", [1, 16])
def test_a_report_type_added_gets_its_reports_days(emu, workers):
    settings = {"reports_days": 6, "max_concurrent_requests": workers}
    first = run_tap(emu, ["reports"], report_types=["nps"], **settings)
    emu.reset()
    second = run_tap(
        emu, ["reports"], state=first.last_state, report_types=["csat", "nps"], **settings
    )
    dates: dict[str, set[str]] = {}
    for row in second.records("reports"):
        dates.setdefault(row["type"], set()).add(row["date"])
    assert dates["csat"] == set(days_back(*range(5, -1, -1)))
    assert dates["nps"] == set(days_back(2, 1, 0))  # the lookback only
    assert second.last_state["bookmarks"]["reports"]["filters"] == {"report_types": ["csat", "nps"]}


def test_a_run_stopped_during_the_catch_up_catches_up_again(emu):
    a, b = two_surveys(emu)
    first = run_tap(emu, ["responses"], form_uuids=[a], max_concurrent_requests=1, **SETTINGS)
    settings = {**SETTINGS, "form_uuids": [a, b], "max_concurrent_requests": 1, "max_tries": 1}
    seen: list[str] = []

    def second_window_fails(_method: str, path: str, _n: int) -> tuple[int, str, str] | None:
        if path != "/v1/responses":
            return None
        seen.append(path)
        return (500, "application/json", '{"message": "Server Error"}') if len(seen) == 2 else None

    with BreakingProxy(emu.base_url, second_window_fails) as proxy:
        stopped = run_tap(
            emu,
            ["responses"],
            state=first.last_state,
            expect_error=True,
            api_url=proxy.url + "/v1",
            **settings,
        )
    assert stopped.records("responses")  # the first catch-up window was written
    assert stopped.last_state == first.last_state  # ... yet neither bookmark nor filters moved
    resumed = run_tap(emu, ["responses"], state=stopped.last_state, **settings)
    wanted = {
        r["uuid"] for r in since_start(api_items(emu, "/responses")) if r["form"]["uuid"] == b
    }
    assert wanted <= {r["uuid"] for r in resumed.records("responses")}
    assert resumed.last_state["bookmarks"]["responses"]["filters"]["form_uuids"] == sorted([a, b])
