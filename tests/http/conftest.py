"""A real local HTTP server (pytest-httpserver) playing scripted answers, for retry tests."""

from __future__ import annotations

import pytest

from tests.local_http import ANY_PATH, json_reply, request_target


class Script:
    """Answers to play in order (the last one repeats) and the requests that arrived."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[tuple[int, dict[str, str], object]] = [(200, {}, {"ok": True})]
        self.requests: list[dict[str, object]] = []

    def play(self, *answers: tuple[int, dict[str, str], object]) -> None:
        self.answers = list(answers)
        self.requests.clear()

    def answer(self, request):
        self.requests.append({"path": request_target(request), "headers": dict(request.headers)})
        index = min(len(self.requests), len(self.answers)) - 1
        status, headers, body = self.answers[index]
        return json_reply(status, body, headers)


@pytest.fixture
def scripted_server(httpserver):
    script = Script(httpserver.url_for("/v1"))
    httpserver.expect_request(ANY_PATH).respond_with_handler(script.answer)
    return script


@pytest.fixture
def sleeps(monkeypatch):
    """Patch time.sleep (used by backoff) and record every wait requested."""
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    return waits
