"""Page-number fallback when the API gives no cursor, and the paginator on its own."""

from __future__ import annotations

import pytest
import requests

from refiner_http.page_reader import next_page_params
from tests.local_http import ANY_PATH, json_reply, request_target
from tests.tap.taprun import run_tap


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"items": [1], "pagination": {"next_page_cursor": "abc"}}, {"page_cursor": "abc"}),
        (
            {
                "items": [1],
                "pagination": {"next_page_cursor": None, "current_page": 1, "last_page": 3},
            },
            {"page": 2},
        ),
        ({"items": [1], "pagination": {"current_page": 3, "last_page": 3}}, None),
        # an empty page is not the end while the API says more pages follow
        ({"items": [], "pagination": {"current_page": 1, "last_page": 3}}, {"page": 2}),
        ({"items": [], "pagination": {"next_page_cursor": "abc"}}, {"page_cursor": "abc"}),
        ({"items": [1]}, None),
        ([], None),
    ],
)
def test_next_page_params(body, expected):
    assert next_page_params(body) == expected


@pytest.fixture
def cursorless_proxy(emu, httpserver):
    """Forwards to the emulator and strips ``next_page_cursor`` (page-number-only variant)."""

    def forward(request):
        upstream = requests.get(
            emu.base_url + request_target(request),
            headers={"Authorization": request.headers.get("Authorization", "")},
            timeout=10,
        )
        body = upstream.json()
        if isinstance(body, dict) and "pagination" in body:
            body["pagination"].pop("next_page_cursor", None)
        return json_reply(upstream.status_code, body)

    httpserver.expect_request(ANY_PATH, method="GET").respond_with_handler(forward)

    class Proxy:
        api_key = emu.api_key
        api_url = httpserver.url_for("/v1")

    return Proxy


def test_page_numbers_when_no_cursor(emu, cursorless_proxy):
    run = run_tap(cursorless_proxy, ["contacts"], page_length=80)
    assert len({r["uuid"] for r in run.records("contacts")}) == 300
    calls = emu.calls(path="/v1/contacts")
    assert [c["params"].get("page") for c in calls] == [None, "2", "3", "4"]
    assert all("page_cursor" not in c["params"] for c in calls)
