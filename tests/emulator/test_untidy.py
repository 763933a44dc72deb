"""The emulator's untidy switches: each behaves as a less tidy API would, and only when on."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture
def untidy(emu_api):
    yield emu_api
    emu_api.emu.reset(config=True)


def pages(api, path: str, **params) -> list[dict]:
    """Every page body of a listing, following cursors."""
    bodies, query = [], {"page_length": 100, **params}
    while True:
        body = api.ok("GET", path, params=query)
        bodies.append(body)
        cursor = body["pagination"]["next_page_cursor"]
        if not cursor:
            return bodies
        query = {**query, "page_cursor": cursor}


def test_empty_pages_carry_a_cursor_and_hide_no_rows(untidy):
    tidy = pages(untidy, "/contacts")
    untidy.emu.configure(empty_pages=True)
    messy = pages(untidy, "/contacts")
    empty = [b for b in messy if not b["items"]]
    assert len(empty) == len(tidy)  # one after every page, the last one included
    assert all(b["pagination"]["next_page_cursor"] for b in empty[:-1])
    uuids = [c["uuid"] for b in messy for c in b["items"]]
    assert uuids == [c["uuid"] for b in tidy for c in b["items"]]


def test_no_last_page(untidy):
    untidy.emu.configure(no_last_page=True)
    pagination = untidy.ok("GET", "/contacts")["pagination"]
    assert "last_page" not in pagination
    assert pagination["next_page_cursor"]


def test_offset_cursors_shift_when_rows_are_inserted(untidy):
    untidy.emu.configure(offset_cursors=True)
    first = untidy.ok("GET", "/contacts", params={"page_length": 40})
    untidy.ok("POST", "/identify-user", json={"id": "shifter"})
    cursor = first["pagination"]["next_page_cursor"]
    second = untidy.ok("GET", "/contacts", params={"page_length": 40, "page_cursor": cursor})
    assert first["items"][-1]["uuid"] == second["items"][0]["uuid"]  # a keyset cursor would not


def test_reporting_end_inclusive_adds_the_end_day(untidy):
    params = {"type": "count", "date_range_start": "2026-01-01", "date_range_end": "2027-01-01"}
    exclusive = untidy.ok("GET", "/reporting", params=params)
    same_day = {**params, "date_range_end": "2026-01-01"}
    assert untidy.ok("GET", "/reporting", params=same_day)["views"] == 0
    untidy.emu.configure(reporting_end_inclusive=True)
    assert untidy.ok("GET", "/reporting", params=params)["views"] >= exclusive["views"]
    responses = untidy.ok("GET", "/responses", params={"include": "all", "page_length": 1})
    day = responses["items"][0]["last_shown_at"][:10]
    whole_day = {**params, "date_range_start": day, "date_range_end": day}
    assert untidy.ok("GET", "/reporting", params=whole_day)["views"] >= 1


def test_timeout_and_reset_faults_have_no_answer_in_time(untidy):
    emu = untidy.emu
    emu.fault(504, kind="timeout", seconds=2, path="/v1/contacts")
    with pytest.raises(requests.exceptions.Timeout):
        untidy.session.get(emu.api_url + "/contacts", timeout=0.5)
    emu.fault(504, kind="reset", path="/v1/contacts")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        untidy.session.get(emu.api_url + "/contacts", timeout=5)
    assert untidy.ok("GET", "/contacts")["items"]  # then the API answers again
