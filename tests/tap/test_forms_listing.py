"""The forms listing is read once per run, in full, by whichever of its streams runs first."""

from __future__ import annotations

import math

import pytest

from tests.tap.taprun import api_items, run_tap

FORM_STREAMS = ["forms", "questions", "reports"]
SETTINGS = {"page_length": 2, "reports_days": 1, "report_types": ["nps"]}


def forms_calls(emu):
    return [c for c in emu.calls(path="/v1/forms") if c["method"] == "GET"]


def pages_of_one_listing(emu) -> int:
    """How many requests one full forms listing takes at the test's page length."""
    count = len(api_items(emu, "/forms", list="all_with_archived"))
    assert count > SETTINGS["page_length"]  # so the shared listing really pages
    emu.reset()  # forget the ground-truth call
    return math.ceil(count / SETTINGS["page_length"])


def test_one_paged_listing_serves_forms_questions_and_reports(emu):
    forms = {f["uuid"] for f in api_items(emu, "/forms", list="all_with_archived")}
    pages = pages_of_one_listing(emu)
    run = run_tap(emu, FORM_STREAMS, **SETTINGS)
    calls = forms_calls(emu)
    assert len(calls) == pages  # every page, once for the three streams
    assert "page_cursor" not in calls[0]["params"]
    assert all("page_cursor" in c["params"] for c in calls[1:])
    assert all(c["params"]["list"] == "all_with_archived" for c in calls)
    assert all(c["params"]["include_config"] == "1" for c in calls)
    assert {f["uuid"] for f in run.records("forms")} == forms
    assert {q["form_uuid"] for q in run.records("questions")} <= forms
    assert run.records("questions")
    assert {r["form_uuid"] for r in run.records("reports")} == forms


@pytest.mark.parametrize("stream", FORM_STREAMS)
def test_each_stream_alone_gives_what_it_gives_beside_the_others(emu, stream):
    pages = pages_of_one_listing(emu)
    together = run_tap(emu, FORM_STREAMS, **SETTINGS)
    emu.reset()
    alone = run_tap(emu, [stream], **SETTINGS)
    assert alone.records(stream)
    assert alone.records(stream) == together.records(stream)
    assert len(forms_calls(emu)) == pages


def test_each_run_reads_the_listing_again(emu):
    pages = pages_of_one_listing(emu)
    run_tap(emu, ["forms"], **SETTINGS)
    run_tap(emu, ["forms", "questions"], **SETTINGS)
    assert len(forms_calls(emu)) == 2 * pages
