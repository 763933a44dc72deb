"""``ReceiverProcess``: ``refiner-webhooks serve`` in a subprocess, for tests and benchmarks.

A real process (not an in-process app) so tests exercise the CLI, the ready line, signals and
durability across ``SIGKILL`` exactly as an orchestrator would. The secret travels in the
environment, never on the command line.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self  # only for annotations: typing.Self needs 3.11

READY_PREFIX = "Refiner webhook receiver listening on "
START_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0


class ReceiverProcess:
    """Start on enter, stop (SIGTERM) on exit; ``url`` is ``http://127.0.0.1:PORT/``."""

    def __init__(
        self,
        store: str | Path,
        *extra_args: str,
        secret: str | None = None,
        log_path: str | Path | None = None,
    ) -> None:
        """Remember how to start; ``log_path`` receives stderr (default: next to the store)."""
        self.store = Path(store)
        self.secret = secret
        self.extra_args = extra_args
        self.log_path = Path(log_path) if log_path else self.store.with_suffix(".log")
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[Any] | None = None

    def start(self) -> Self:
        """Launch and wait for the ready line."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("REFINER_WEBHOOK_")}
        if self.secret is not None:
            env["REFINER_WEBHOOK_SECRET"] = self.secret
        command = [sys.executable, "-m", "refiner_webhooks", "serve", "--port", "0"]
        command += ["--store", str(self.store), *self.extra_args]
        self._log = self.log_path.open("a", encoding="utf-8")
        self._proc = subprocess.Popen(  # noqa: S603 - our own CLI with our own arguments
            command, stdout=subprocess.PIPE, stderr=self._log, text=True, env=env
        )
        self.url = self._wait_ready()
        return self

    def _wait_ready(self) -> str:
        assert self._proc is not None  # noqa: S101 - internal invariant
        assert self._proc.stdout is not None  # noqa: S101 - internal invariant
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._proc.stdout], [], [], 0.1)
            if ready:
                line = self._proc.stdout.readline()
                if line.startswith(READY_PREFIX):
                    return line[len(READY_PREFIX) :].strip()
                if not line:  # exited
                    break
        self._reap(signal.SIGKILL)
        msg = f"receiver did not start; log: {self.log_text()}"
        raise RuntimeError(msg)

    @property
    def pid(self) -> int:
        """The process id."""
        assert self._proc is not None  # noqa: S101 - only valid once started
        return self._proc.pid

    def stop(self) -> int | None:
        """Graceful stop (SIGTERM): in-flight requests finish, the store is closed."""
        return self._reap(signal.SIGTERM)

    def kill(self) -> int | None:
        """Hard stop (SIGKILL): nothing runs after it, as in a crash."""
        return self._reap(signal.SIGKILL)

    def _reap(self, sig: signal.Signals) -> int | None:
        proc, self._proc = self._proc, None
        code = None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(sig)
            try:
                code = proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def log_text(self) -> str:
        """Everything the receiver wrote to stderr so far."""
        if self._log is not None:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8") if self.log_path.exists() else ""

    def __enter__(self) -> Self:
        """Start."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop gracefully (no-op when already stopped or killed)."""
        self.stop()


def sample_event(n: int, event: str = "Completed Survey", **extra: object) -> dict[str, Any]:
    """A webhook body shaped like Refiner's captured ones (§5), unique per ``n``."""
    body: dict[str, Any] = {
        "uuid": f"contact-{n}",
        "remote_id": f"user-{n}",
        "email": f"user{n}@example.com",
        "display_name": f"User {n}",
        "project_uuid": "project-1",
        "first_seen_at": "2026-01-01T00:00:00.000000Z",
        "last_seen_at": "2026-01-02T00:00:00.000000Z",
        "attributes": {"plan": "pro", "age": None},
        "segments": [
            {"uuid": "seg-all", "name": "All", "created_at": "2026-01-01T00:00:00.000000Z"}
        ],
        "account": None,
        "triggered_event": event,
        "form": {"uuid": "form-1", "name": "NPS"},
        "response": {
            "uuid": f"response-{n}",
            "completed_at": "2026-01-02T00:00:00.000000Z",
            "last_data_reception_at": "2026-01-02T00:00:00.000000Z",
            "data": {"nps": n % 11},
            "tags": [],
        },
    }
    body.update(extra)
    return body
