"""Counters per stream, a progress line every few seconds, the summary, and the reject guards.

Counting is shared by the main thread (rows in, fast skips, mapping rejections) and the
sender's threads (sent, API rejections), hence one lock.

The summary is INFO while nothing was rejected; a stream with rejected rows gets its line at
WARNING with the count and the dead-letter file (one line per stream, not one per row), and so
do streams without a ``mappings`` entry (what ``default_action`` did with them). A run in which
every row of a stream was rejected fails at the end (:meth:`Progress.raise_if_streams_rejected`),
after the other streams finished and their STATE went out; a stream rejected by
``default_action: none`` is a choice, reported but not a failure.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass

from target_refiner.errors import RunStoppedError
from target_refiner.mapping_settings import NO_ACTION

MIN_ROWS_FOR_RATIO = 100  # below this, the ratio is only checked at the end of the run


@dataclass
class StreamCounts:
    """What happened to one stream's rows."""

    rows_in: int = 0
    sent: int = 0
    skipped: int = 0
    replayed: int = 0
    rejected: int = 0
    #: mirror_segment rows kept for the segment's diff at the end of the input.
    held: int = 0

    @property
    def done(self) -> int:
        """Rows handled: acknowledged (sent, skipped, replays, rejected) or held for a mirror.

        Held rows count, so a mirror stream's rejections are measured against its rows.
        """
        return self.sent + self.skipped + self.replayed + self.rejected + self.held


class RejectRatioExceededError(RunStoppedError):
    """Too many rows were rejected: stop rather than silently drop most of the data."""


class StreamRejectedError(RunStoppedError):
    """Every row of a stream was rejected: the run did nothing for it, so it is not a success."""


class Progress:
    """Thread-safe tallies with periodic logging."""

    def __init__(  # noqa: PLR0913 - what the summary and the guards need to know
        self,
        log: logging.Logger,
        *,
        interval: float,
        max_reject_ratio: float | None = None,
        dead_letter_hint: str = "",
        mapped: frozenset[str] = frozenset(),
        default_action: str = NO_ACTION,
        dry_run: bool = False,
    ) -> None:
        """``interval`` <= 0 turns the periodic line off; a dry run's lines say "would send"."""
        self.log = log
        self.dry_run = dry_run
        self.interval = interval
        self.max_reject_ratio = max_reject_ratio
        self.dead_letter_hint = dead_letter_hint
        self.streams: dict[str, StreamCounts] = {}
        #: Streams with a ``mappings`` entry; the others get ``default_action``.
        self.mapped = mapped
        self.default_action = default_action
        self.calls = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()

    def _counts(self, stream: str) -> StreamCounts:
        counts = self.streams.get(stream)
        if counts is None:
            counts = self.streams[stream] = StreamCounts()
        return counts

    def row_in(self, stream: str) -> None:
        """A row arrived."""
        with self._lock:
            self._counts(stream).rows_in += 1

    def sent(self, stream: str) -> None:
        """A row's call was acknowledged by Refiner."""
        with self._lock:
            self._counts(stream).sent += 1
            self.calls += 1

    def skipped(self, stream: str) -> None:
        """A row was unchanged (or already sent) according to the ledger."""
        with self._lock:
            self._counts(stream).skipped += 1

    def replayed(self, stream: str) -> None:
        """A track row was an exact replay of an event Refiner already acknowledged."""
        with self._lock:
            self._counts(stream).replayed += 1

    def rejected(self, stream: str) -> None:
        """A row went to the dead-letter file."""
        with self._lock:
            self._counts(stream).rejected += 1

    def hold(self, stream: str) -> None:
        """A mirror_segment row was kept for its segment's diff."""
        with self._lock:
            self._counts(stream).held += 1

    def release(self, stream: str, rows: int) -> None:
        """A mirror's diff is being applied: its rows are counted by what becomes of them."""
        with self._lock:
            self._counts(stream).held -= rows

    def per_stream(self) -> dict[str, StreamCounts]:
        """A copy of each stream's counts (what the summary lines say)."""
        with self._lock:
            return {stream: dataclasses.replace(c) for stream, c in self.streams.items()}

    def totals(self) -> StreamCounts:
        """Sum over streams."""
        with self._lock:
            total = StreamCounts()
            for c in self.streams.values():
                total.rows_in += c.rows_in
                total.sent += c.sent
                total.skipped += c.skipped
                total.replayed += c.replayed
                total.rejected += c.rejected
                total.held += c.held
            return total

    def check_reject_ratio(self, *, final: bool = False) -> None:
        """Raise once rejections exceed ``max_reject_ratio`` (from 100 rows on, or at the end)."""
        if self.max_reject_ratio is None:
            return
        total = self.totals()
        done = total.done
        if done == 0 or (done < MIN_ROWS_FOR_RATIO and not final):
            return
        ratio = total.rejected / done
        if ratio > self.max_reject_ratio:
            msg = (
                f"Setting `max_reject_ratio` ({self.max_reject_ratio:.2%}) exceeded: "
                f"{total.rejected} of {done} rows rejected ({ratio:.2%}). "
                f"Reasons are in the dead-letter file {self.dead_letter_hint}."
            )
            raise RejectRatioExceededError(msg)

    # -- logging --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the periodic progress line."""
        if self.interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        last_calls, last_time = 0, time.monotonic()
        while not self._stop.wait(self.interval):
            now = time.monotonic()
            total = self.totals()
            rate = (self.calls - last_calls) / max(now - last_time, 1e-9)
            last_calls, last_time = self.calls, now
            self.log.info("Progress: %s, %.1f calls/s", self._text(total), rate)

    def stop(self) -> None:
        """Stop the periodic line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def summary(self) -> None:
        """One line per stream, then the totals; WARNING where rows were rejected."""
        elapsed = max(time.monotonic() - self._started, 1e-9)
        with self._lock:
            items = sorted(self.streams.items())
        for stream, c in items:
            self.log.log(
                _level(c), "Summary for stream '%s': %s%s", stream, self._text(c), self._hint(c)
            )
        unnamed = [
            f"'{s}' ({self.default_action}: {self._text(c)})"
            for s, c in items
            if s not in self.mapped
        ]
        if unnamed:
            self.log.warning(
                "Streams without an entry in `mappings`, handled by `default_action`: %s",
                "; ".join(unnamed),
            )
        total = self.totals()
        self.log.log(
            _level(total),
            "Summary: %s in %.1fs (%.1f calls/s)%s",
            self._text(total),
            elapsed,
            self.calls / elapsed,
            self._hint(total),
        )

    def _hint(self, c: StreamCounts) -> str:
        if not c.rejected:
            return ""
        return f"; {c.rejected} rejected rows are in the dead-letter file {self.dead_letter_hint}"

    def _text(self, c: StreamCounts) -> str:
        held = f", {c.held} held for a segment mirror (not applied)" if c.held else ""
        sent = f"would send {c.sent}" if self.dry_run else f"{c.sent} sent"
        return (
            f"{c.rows_in} rows in, {sent}, {c.skipped} skipped unchanged, "
            f"{c.replayed} skipped as replays, {c.rejected} rejected{held}"
        )

    def raise_if_streams_rejected(self) -> None:
        """Fail when every row of a stream was rejected (except by ``default_action: none``)."""
        with self._lock:
            lost = [
                (stream, c.rejected)
                for stream, c in sorted(self.streams.items())
                if c.rejected == c.done > 0
                and (stream in self.mapped or self.default_action != NO_ACTION)
            ]
        if lost:
            named = ", ".join(f"'{stream}' ({rows} rows)" for stream, rows in lost)
            streams, them = ("stream", "it") if len(lost) == 1 else ("streams", "them")
            msg = (
                f"Every row of {streams} {named} was rejected: nothing was applied for {them}, "
                "so the run failed after finishing the other streams. Reasons are in the "
                f"dead-letter file {self.dead_letter_hint}."
            )
            raise StreamRejectedError(msg)


def _level(c: StreamCounts) -> int:
    return logging.WARNING if c.rejected else logging.INFO
