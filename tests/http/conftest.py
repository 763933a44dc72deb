"""A real local HTTP server that plays scripted answers, for retry tests of refiner_http."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Script:
    """Answers to play in order (the last one repeats) and the requests that arrived."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], object]] = [(200, {}, {"ok": True})]
        self.requests: list[dict[str, object]] = []

    def play(self, *answers: tuple[int, dict[str, str], object]) -> None:
        self.answers = list(answers)
        self.requests.clear()


@pytest.fixture
def scripted_server():
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            script.requests.append({"path": self.path, "headers": dict(self.headers)})
            index = min(len(script.requests), len(script.answers)) - 1
            status, headers, body = script.answers[index]
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    script.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield script
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sleeps(monkeypatch):
    """Patch time.sleep (used by backoff) and record every wait requested."""
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    return waits
