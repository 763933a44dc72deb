"""Real processes for the target's loss-path tests: the CLI, and a proxy that breaks routes.

The proxy stands between the target and the emulator like a misconfigured gateway would: it
forwards every request, except those a rule answers itself (an HTML page, a 404 for a route,
a 405), so a test sees exactly what reached Refiner (the emulator) and what did not.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tests.local_http import ANY_PATH, request_target

if TYPE_CHECKING:
    from collections.abc import Callable

    from typing_extensions import Self
    from werkzeug import Request

Rule = tuple[int, str, str]  # status, content type, body


def target_cmd() -> list[str]:
    """The console script of this virtualenv."""
    return [str(Path(sys.executable).with_name("target-refiner"))]


def singer_lines(messages: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(m) + "\n" for m in messages)


def run_target(config: dict[str, Any], messages: list[dict[str, Any]], tmp_path: Path, name="run"):
    """Run ``target-refiner`` to the end; returns the CompletedProcess."""
    cfg = tmp_path / f"{name}-config.json"
    cfg.write_text(json.dumps(config))
    return subprocess.run(
        [*target_cmd(), "--config", str(cfg)],
        input=singer_lines(messages),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def start_target(
    config: dict[str, Any], path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``target-refiner`` reading a pipe the test writes to (and may leave open)."""
    path.write_text(json.dumps(config))
    return subprocess.Popen(
        [*target_cmd(), "--config", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def states_of(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def last_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


class BreakingProxy:
    """Forwards to ``upstream``; ``rule(method, path, n)`` may answer instead (n = call count).

    A pytest-httpserver server of its own, threaded: the target sends calls concurrently, and a
    test may start several proxies.
    """

    def __init__(self, upstream: str, rule: Callable[[str, str, int], Rule | None]) -> None:
        self.upstream = upstream.rstrip("/")
        self.rule = rule
        self.count = 0
        self._lock = threading.Lock()
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request(ANY_PATH).respond_with_handler(self._answer)

    def _answer(self, request: Request) -> Response:
        with self._lock:
            self.count += 1
            n = self.count
        answer = self.rule(request.method, request.path, n)
        if answer is not None:
            status, kind, text = answer
            return Response(text, status, content_type=kind)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        reply = requests.request(
            request.method,
            self.upstream + request_target(request),
            data=request.get_data(),
            headers=headers,
            timeout=30,
        )
        return Response(
            reply.content, reply.status_code, content_type=reply.headers.get("Content-Type", "")
        )

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def __enter__(self) -> Self:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
