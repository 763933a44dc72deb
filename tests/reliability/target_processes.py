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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from collections.abc import Callable

    from typing_extensions import Self

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


def start_target(config: dict[str, Any], path: Path) -> subprocess.Popen[str]:
    """``target-refiner`` reading a pipe the test writes to (and may leave open)."""
    path.write_text(json.dumps(config))
    return subprocess.Popen(
        [*target_cmd(), "--config", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def states_of(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def last_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


class BreakingProxy:
    """Forwards to ``upstream``; ``rule(method, path, n)`` may answer instead (n = call count)."""

    def __init__(self, upstream: str, rule: Callable[[str, str, int], Rule | None]) -> None:
        self.upstream = upstream.rstrip("/")
        self.rule = rule
        self.count = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    proxy.count += 1
                    n = proxy.count
                answer = proxy.rule(self.command, self.path.split("?")[0], n)
                if answer is None:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    reply = requests.request(
                        self.command,
                        proxy.upstream + self.path,
                        data=body,
                        headers=headers,
                        timeout=30,
                    )
                    status, kind, text = (
                        reply.status_code,
                        reply.headers.get("Content-Type", ""),
                        reply.content,
                    )
                else:
                    status, kind, text = answer[0], answer[1], answer[2].encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            do_GET = do_POST = do_DELETE = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
