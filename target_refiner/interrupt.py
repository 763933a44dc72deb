"""Stop reading at SIGTERM/SIGINT without losing track of what was acknowledged.

The SDK's own handler drains every sink from inside the signal handler and exits 0, so an
orchestrator cannot tell an interrupted run from a finished one, and a handler that runs in the
middle of handing a row to the sender can wait forever. Here the handler only marks the run
interrupted and ends the input: if the main thread is blocked reading a line, the read is
abandoned (that line was not processed, so no STATE covers it); otherwise the next read ends
the input. ``TargetRefiner.process_endofpipe`` then finishes the calls in flight, emits the last
safe STATE and exits 128 + the signal number.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any, cast

from singer_sdk.io_base import SingerReader
from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


class _Wakeup(Exception):  # noqa: N818 - not an error: a signal ending a blocked read
    """Raised by the signal handler into a blocked read."""


class InterruptibleReader(SingerReader):
    """The SDK's reader, with an input that a signal can end; ``on_start`` runs before line 1."""

    on_start: Callable[[], object] | None = None
    #: Told the exception that ends the input early (a run's stop), before it propagates.
    on_error: Callable[[BaseException], object] | None = None
    signum: int | None = None
    _reading = False

    def interrupt(self, signum: int) -> None:
        """Called from the signal handler (main thread): end the input."""
        self.signum = signum
        if self._reading:
            raise _Wakeup

    def _lines(self, source: Any) -> Iterator[Any]:  # noqa: ANN401 - text or binary lines
        lines = iter(source)
        while self.signum is None:
            try:
                self._reading = True
                line = next(lines)
            except (StopIteration, _Wakeup):
                return
            finally:
                self._reading = False
            yield line

    @override
    def process_lines(self, file_input: Any, callbacks: dict[str, Callable[[dict], None]]) -> Any:
        """Run ``on_start`` (the target's key check and wiring), then read until EOF or a signal.

        An error that ends the reading early is shown to ``on_error`` first.
        """
        if self.on_start is not None:
            self.on_start()
        lines = cast("IO[str]", self._lines(file_input or self.default_input))
        try:
            return super().process_lines(lines, callbacks)
        except BaseException as exc:
            if self.on_error is not None:
                self.on_error(exc)
            raise
