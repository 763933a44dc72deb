"""Why a run stops: one error family, each ending a CLI with one clear line and an exit code.

Shared by the tap and the target. A plugin's ``invoke`` logs the line :func:`stop_line` gives
for a known stop (no traceback: the message says what happened and what to change) and exits
with its code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import signal
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

from singer_sdk.exceptions import ConfigValidationError
from typing_extensions import override

from refiner_http.errors import (
    PagingError,
    RefinerError,
    RefinerTransientError,
)
from refiner_http.policy import RETRYABLE_EXCEPTIONS
from refiner_stores import StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator

EXIT_FAILED = 1
#: How the SDK's ``Stream.sync`` starts the line it logs for any exception leaving a stream.
UNHANDLED = "An unhandled error occurred while syncing"


class RunStoppedError(RuntimeError):
    """The run cannot go on; the message names the setting, endpoint or file to look at."""

    exit_code = EXIT_FAILED


class RunInterruptedError(RunStoppedError):
    """SIGTERM/SIGINT: the work in flight finished, the last safe STATE emitted, the rest left."""

    def __init__(self, signum: int, message: str) -> None:
        """Exit like a shell does for a signal (128 + number: 143 for SIGTERM, 130 for SIGINT)."""
        super().__init__(message)
        self.exit_code = 128 + int(signum)
        self.signal_name = signal.Signals(signum).name


def stop_line(exc: BaseException) -> tuple[str, int] | None:
    """The one line and exit code of a known stop; None for anything else (a bug: traceback).

    Known: settings (``ConfigValidationError``), ``RunStoppedError``, every answer the HTTP
    policy classified (``RefinerError``: auth, endpoint, not JSON), broken paging, a store
    (``pacing_url``, ``webhook_store``) that cannot be opened, and the retryable failures left
    when ``max_tries`` ran out.
    """
    if isinstance(exc, ConfigValidationError):
        return "Invalid configuration: " + ("; ".join(exc.errors) or str(exc)), EXIT_FAILED
    if isinstance(exc, RunStoppedError):
        return str(exc), exc.exit_code
    if isinstance(exc, RefinerTransientError) or (
        isinstance(exc, RETRYABLE_EXCEPTIONS) and not isinstance(exc, RefinerError)
    ):  # a 429/5xx or a network error left when the tries ran out (our own errors say so)
        msg = f"Refiner still failing after the tries setting `max_tries` allows: {exc}"
        return msg, EXIT_FAILED
    if isinstance(exc, (RefinerError, PagingError, StoreError)):
        return str(exc), EXIT_FAILED
    return None


@contextmanager
def known_stops_exit(log: logging.Logger) -> Iterator[None]:
    """Around a CLI run: a known stop becomes its one ERROR line and ``sys.exit(code)``."""
    try:
        yield
    except Exception as exc:
        stop = stop_line(exc)
        if stop is None:
            raise
        log.error("%s", stop[0])  # noqa: TRY400 - the message is the whole story
        sys.exit(stop[1])


class KnownStopLogFilter(logging.Filter):
    """Drops the SDK's "An unhandled error occurred while syncing" line for a known stop.

    The SDK logs it while the exception passes through ``Stream.sync``; the stop's own line
    follows from ``invoke``, so with it a known stop would be two ERROR lines. Any other
    exception keeps the SDK's line (and its traceback).
    """

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        """False only for the SDK's line while a known stop is being raised."""
        if record.levelno < logging.ERROR or not str(record.msg).startswith(UNHANDLED):
            return True
        exc = sys.exc_info()[1]
        return exc is None or stop_line(exc) is None
