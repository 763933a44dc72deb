import base64
import json

import pytest

from refiner_emulator.testing import EmulatorProcess


def test_page_numbers(emu_api):
    first = emu_api.ok("GET", "/contacts", params={"page_length": 120})
    assert first["pagination"] == {
        "items_count": 300,
        "current_page": 1,
        "last_page": 3,
        "page_length": 120,
        "next_page_cursor": first["pagination"]["next_page_cursor"],
    }
    last = emu_api.ok("GET", "/contacts", params={"page_length": 120, "page": 3})
    assert len(last["items"]) == 60
    assert last["pagination"]["next_page_cursor"] is None
    beyond = emu_api.ok("GET", "/contacts", params={"page_length": 120, "page": 4})
    assert beyond["items"] == []


def test_cursor_and_page_agree(emu_api):
    by_page = []
    for page in (1, 2, 3):
        body = emu_api.ok("GET", "/contacts", params={"page_length": 100, "page": page})
        by_page += [c["uuid"] for c in body["items"]]
    by_cursor, cursor, pages = [], None, []
    while True:
        params = {"page_length": 100}
        if cursor:
            params["page_cursor"] = cursor
        body = emu_api.ok("GET", "/contacts", params=params)
        by_cursor += [c["uuid"] for c in body["items"]]
        pages.append(body["pagination"]["current_page"])
        cursor = body["pagination"]["next_page_cursor"]
        if cursor is None:
            break
    assert by_cursor == by_page
    assert pages == [1, 2, 3]
    assert len(set(by_cursor)) == 300


def test_default_page_length(emu_api):
    body = emu_api.ok("GET", "/contacts")
    assert body["pagination"]["page_length"] == 100
    emu_api.emu.configure(page_length_default=50)
    assert len(emu_api.ok("GET", "/contacts")["items"]) == 50


@pytest.mark.parametrize("length", ["0", "1001", "-5", "abc"])
def test_page_length_bounds(emu_api, length):
    reply = emu_api.get("/contacts", params={"page_length": length})
    assert reply.status_code == 400
    assert set(reply.json()) == {"error"}


def test_max_page_length(emu_api):
    body = emu_api.ok("GET", "/responses", params={"page_length": 1000, "include": "all"})
    assert len(body["items"]) == 800
    assert body["pagination"]["next_page_cursor"] is None


def test_bad_cursors(emu_api):
    for cursor in ("garbage!", "eyJmb28iOiAxfQ", base64.b64encode(b"[]").decode()):
        reply = emu_api.get("/contacts", params={"page_cursor": cursor})
        assert reply.status_code == 400, cursor
    body = emu_api.ok("GET", "/contacts", params={"page_length": 10})
    cursor = body["pagination"]["next_page_cursor"]
    other = emu_api.get("/contacts", params={"page_cursor": cursor, "order_by": "email"})
    assert other.status_code == 400
    # a tampered cursor (valid JSON, edited key) is rejected too
    token = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    token["b"] = token["b"].replace('"p":2', '"p":3')
    forged = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
    assert emu_api.get("/contacts", params={"page_cursor": forged}).status_code == 400


def test_insert_while_cursor_paging(emu_api):
    seen, cursor, inserted = [], None, 0
    while True:
        params = {"page_length": 40}
        if cursor:
            params["page_cursor"] = cursor
        body = emu_api.ok("GET", "/contacts", params=params)
        seen += [c["uuid"] for c in body["items"]]
        cursor = body["pagination"]["next_page_cursor"]
        emu_api.ok("POST", "/identify-user", json={"id": f"inserted-{inserted}"})
        inserted += 1
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 300
    # page numbers, by contrast, shift when rows are inserted at the front
    page1 = emu_api.ok("GET", "/contacts", params={"page_length": 40})["items"]
    emu_api.ok("POST", "/identify-user", json={"id": "shifter"})
    page2 = emu_api.ok("GET", "/contacts", params={"page_length": 40, "page": 2})["items"]
    assert page1[-1]["uuid"] == page2[0]["uuid"]


def test_responses_cursor_stable_with_new_response(emu_api):
    form = emu_api.ok("GET", "/forms")["items"][0]["uuid"]
    seen, cursor, n = [], None, 0
    while True:
        params = {"page_length": 100}
        if cursor:
            params["page_cursor"] = cursor
        body = emu_api.ok("GET", "/responses", params=params)
        seen += [r["uuid"] for r in body["items"]]
        cursor = body["pagination"]["next_page_cursor"]
        emu_api.ok("POST", "/responses", json={"form_uuid": form, "id": f"p-{n}", "q": n})
        n += 1
        if cursor is None:
            break
    # the last page was read after n - 1 inserts
    assert len(seen) == len(set(seen)) == body["pagination"]["items_count"] - (n - 1)


def test_segments_forms_history_paging(emu_api):
    segments = emu_api.ok("GET", "/segments", params={"page_length": 2})
    assert segments["pagination"]["last_page"] == 3
    rest = emu_api.ok(
        "GET", "/segments", params={"page_cursor": segments["pagination"]["next_page_cursor"]}
    )
    assert len(rest["items"]) == 3  # page_length is not part of the cursor: default applies
    forms = emu_api.ok("GET", "/forms", params={"page_length": 1, "page": 2})
    assert forms["pagination"]["current_page"] == 2
    form = forms["items"][0]["uuid"]
    history = emu_api.ok("GET", "/forms/history", params={"form_uuid": form, "page_length": 1})
    assert history["pagination"]["items_count"] >= 2


def test_page_length_50_cli_switch():
    with EmulatorProcess(
        "--contacts", "60", "--responses", "0", "--page-length-default", "50"
    ) as emu:
        reply = emu.api.get("/contacts")
        assert reply.json()["pagination"]["page_length"] == 50
