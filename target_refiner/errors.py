"""Why a run stops: one error family, each ending the CLI with one clear line and an exit code.

``TargetRefiner.invoke`` logs the message of a :class:`RunStoppedError` as the run's last line
(no traceback: the message says what happened and what to change) and exits with
``exit_code``; anything else is a bug and keeps the SDK's traceback.
"""

from __future__ import annotations

import signal

EXIT_FAILED = 1


class RunStoppedError(RuntimeError):
    """The run cannot go on; the message names the setting, endpoint or file to look at."""

    exit_code = EXIT_FAILED


class RunInterruptedError(RunStoppedError):
    """SIGTERM/SIGINT: in-flight calls finished, the last safe STATE emitted, rows left unsent."""

    def __init__(self, signum: int, message: str) -> None:
        """Exit like a shell does for a signal (128 + number: 143 for SIGTERM, 130 for SIGINT)."""
        super().__init__(message)
        self.exit_code = 128 + int(signum)
        self.signal_name = signal.Signals(signum).name
