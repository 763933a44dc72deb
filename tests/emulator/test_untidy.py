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


def by_page_number(api, path: str, **params) -> list[dict]:
    """Every page body of a listing, by page number until ``last_page``."""
    bodies, page = [], 1
    while True:
        body = api.ok("GET", path, params={"page_length": 30, "page": page, **params})
        bodies.append(body)
        if page >= body["pagination"]["last_page"]:
            return bodies
        page += 1


def test_listings_end_early_with_a_plain_200_while_items_count_says_more(untidy):
    total = len(untidy.items("/contacts"))
    assert total > 70
    untidy.emu.configure(end_listings_early=70)
    for bodies in (pages(untidy, "/contacts", page_length=30), by_page_number(untidy, "/contacts")):
        assert len(bodies) == 3  # 30 + 30 + 10, and the third page says it is the last
        assert sum(len(b["items"]) for b in bodies) == 70
        last = bodies[-1]["pagination"]
        assert (last["next_page_cursor"], last["last_page"]) == (None, last["current_page"])
        assert {b["pagination"]["items_count"] for b in bodies} == {total}
    segments = untidy.ok("GET", "/segments")  # a listing shorter than N is whole
    assert len(segments["items"]) == segments["pagination"]["items_count"]


def test_no_items_count(untidy):
    untidy.emu.configure(no_items_count=True)
    pagination = untidy.ok("GET", "/contacts")["pagination"]
    assert "items_count" not in pagination
    assert pagination["next_page_cursor"]


def test_the_documented_listing_serves_every_item_its_items_count_says(untidy):
    bodies = pages(untidy, "/contacts", page_length=30)
    counts = {b["pagination"]["items_count"] for b in bodies}
    assert counts == {sum(len(b["items"]) for b in bodies)}


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
