"""SIGTERM/SIGINT stop the tap at once, never in the middle of a Singer message.

The SDK's handler writes the whole state dict and exits 0, so an orchestrator that stopped the
run records success while later streams never ran. Here the handler raises
``RunInterruptedError`` in the main thread, wherever it waits (an HTTP answer, a window read
ahead, pacing), or, while a message is being written, right after that message. No STATE is
written after the signal: every STATE already written covers only what was fully read (a
window's bookmark moves once the window is written; the SDK writes a stream's final STATE after
the stream). ``TapRefiner.invoke`` ends with the message and exit code 128 + the signal number
(143 for SIGTERM, 130 for SIGINT), as the target does.

One place is not "wherever": inside the logging module. ``logging.Handler.handle`` takes its
handler's lock before its ``try``, so an exception raised there can leave the lock taken, and
every thread that logs afterwards (the readers the stopping run waits for among them) blocks
forever. A signal that finds the main thread in logging stops the run before the next message
instead.
"""

from __future__ import annotations

import logging
import signal
from typing import TYPE_CHECKING

from singer_sdk.contrib.msgspec import MsgSpecWriter
from typing_extensions import override

from refiner_http.stops import RunInterruptedError

if TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.singerlib import Message


def interrupted(signum: int) -> RunInterruptedError:
    """The stop a signal causes, with the line the run ends on."""
    name = signal.Signals(signum).name
    msg = (
        f"Interrupted by {name}: stopped reading; the last STATE emitted covers only windows "
        "and streams read in full. Run again to continue from that STATE."
    )
    return RunInterruptedError(signum, msg)


def inside_logging(frame: FrameType | None) -> bool:
    """Whether the interrupted ``frame`` runs in the logging module (where raising is unsafe)."""
    while frame is not None:
        if frame.f_code.co_filename == logging.__file__:
            return True
        frame = frame.f_back
    return False


class InterruptibleWriter(MsgSpecWriter):
    """The tap's Singer writer: a signal ends the run between messages, never inside one."""

    signum: int | None = None
    _writing = False

    def interrupt(self, signum: int, *, now: bool = True) -> None:
        """From the signal handler (main thread): stop now, or after the message being written.

        ``now`` False (the main thread is in logging): stop before the next message instead.
        """
        if self.signum is not None:
            return  # already stopping: let the clean-up (threads, spool files) finish
        self.signum = signum
        if now and not self._writing:
            raise interrupted(signum)

    @override
    def write_message(self, message: Message) -> None:
        """Write one whole message; stop before it if a signal came, or after it if one comes."""
        if self.signum is not None:
            raise interrupted(self.signum)
        self._writing = True
        try:
            super().write_message(message)
        finally:
            self._writing = False
        if self.signum is not None:
            raise interrupted(self.signum)
