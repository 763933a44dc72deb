"""Page-number fallback when the API gives no cursor, and the paginator on its own."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from refiner_http.page_reader import next_page_params
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
def cursorless_proxy(emu):
    """Forwards to the emulator and strips ``next_page_cursor`` (page-number-only variant)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            upstream = requests.get(
                emu.base_url + self.path,
                headers={"Authorization": self.headers.get("Authorization", "")},
                timeout=10,
            )
            body = upstream.json()
            if isinstance(body, dict) and "pagination" in body:
                body["pagination"].pop("next_page_cursor", None)
            payload = requests.models.complexjson.dumps(body).encode()
            self.send_response(upstream.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    class Proxy:
        api_key = emu.api_key
        api_url = f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield Proxy
    server.shutdown()
    server.server_close()


def test_page_numbers_when_no_cursor(emu, cursorless_proxy):
    run = run_tap(cursorless_proxy, ["contacts"], page_length=80)
    assert len({r["uuid"] for r in run.records("contacts")}) == 300
    calls = emu.calls(path="/v1/contacts")
    assert [c["params"].get("page") for c in calls] == [None, "2", "3", "4"]
    assert all("page_cursor" not in c["params"] for c in calls)
