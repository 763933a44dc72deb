"""One of our server CLIs in a subprocess, for tests, benchmarks and the demo.

A real process (not an in-process app) so callers exercise the CLI, the ready line, signals and
durability across ``SIGKILL`` exactly as an orchestrator would. Both servers print one ready
line when they accept connections (``refiner_serving.server.AnnouncingServer``); we wait for it
instead of polling the port. Stderr goes to a file: a pipe nobody reads would block the server.
"""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import TracebackType

    from typing_extensions import Self  # only for annotations: typing.Self needs 3.11

STOP_TIMEOUT = 20.0
LOG_TAIL_CHARS = 4000


class ServerStartError(RuntimeError):
    """The server did not announce itself in time (the message carries its stderr)."""


class ServerProcess:
    """``python -m MODULE ARGS`` started on enter, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(  # noqa: PLR0913 - each is a plain launch option
        self,
        module: str,
        argv: Sequence[str],
        *,
        ready_prefix: str,
        env: Mapping[str, str] | None = None,
        log_path: str | Path | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Remember how to start; ``log_path`` receives stderr (default: a temporary file)."""
        self.command = [sys.executable, "-m", module, *argv]
        self.ready_prefix = ready_prefix
        self.env = dict(env) if env is not None else None
        self.log_path = Path(log_path) if log_path else None
        self.timeout = timeout
        self.url = ""
        self.last_stderr = ""
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    def start(self) -> Self:
        """Launch and wait for the ready line; ``url`` is what follows its prefix."""
        if self.log_path is None:
            self._log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 - closed in _reap
        else:
            self._log = self.log_path.open("a+", encoding="utf-8")
        self._proc = subprocess.Popen(  # noqa: S603 - our own module with our own arguments
            self.command, stdout=subprocess.PIPE, stderr=self._log, text=True, env=self.env
        )
        self.url = self._wait_ready()
        return self

    def _wait_ready(self) -> str:
        proc = self._proc
        assert proc is not None  # noqa: S101 - set by start()
        assert proc.stdout is not None  # noqa: S101 - stdout is a pipe
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.1)
            if ready:
                line = proc.stdout.readline()
                if line.startswith(self.ready_prefix):
                    return line[len(self.ready_prefix) :].strip()
                if not line:  # exited before announcing itself
                    break
        self._reap(signal.SIGKILL)
        msg = f"{self.command[2]} did not start within {self.timeout}s: {self.last_stderr}"
        raise ServerStartError(msg)

    @property
    def pid(self) -> int:
        """The process id."""
        assert self._proc is not None  # noqa: S101 - only valid once started
        return self._proc.pid

    @property
    def running(self) -> bool:
        """Whether the subprocess is alive."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> int | None:
        """Graceful stop (SIGTERM): in-flight requests finish, stores are closed."""
        return self._reap(signal.SIGTERM)

    def kill(self) -> int | None:
        """Hard stop (SIGKILL): nothing runs after it, as in a crash."""
        return self._reap(signal.SIGKILL)

    def log_text(self) -> str:
        """Everything the server wrote to stderr so far."""
        if self._log is None or self._log.closed:
            return self.last_stderr
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

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
            self.last_stderr = self.log_text()[-LOG_TAIL_CHARS:]
            self._log.close()
            self._log = None
        return code

    def __enter__(self) -> Self:
        """Start."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        """Stop gracefully (no-op when already stopped or killed)."""
        self.stop()
