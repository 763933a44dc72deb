"""The tap's closing summary: per stream, records, requests, pages, time and the bookmark.

Why: the SDK's METRIC lines carry the stream only as a JSON tag, which is lost when Meltano
re-logs them, and a run of many streams prints hundreds of them. The summary is plain log lines
that name each stream, in the style of target-refiner's (``target_refiner.progress``):

    Summary for stream 'responses': 800 records, 27 requests, 27 pages in 0.4s; bookmark
    last_data_reception_at = 2026-12-07T01:29:03.000000Z
    Summary: 2208 records, 60 requests, 60 pages from 4 streams in 1.4s

- records: what the SDK's record counter counts (``get_record_counter``): the records the stream
  synced, one RECORD message each (or one row of a BATCH file);
- requests: HTTP attempts, retries included (``RefinerStream.request_decorator``); pages: the
  answers that passed the policy's checks. A stream that reuses a listing or the windows another
  stream read made none;
- time: the SDK's sync timer (``get_sync_timer``), summed over a child stream's parents; a parent's
  time includes its children's;
- the bookmark as the stream's final STATE holds it (for partitioned streams, how many
  partitions and the latest value).

Streams run one after another, but a stream's requests run on ``FetchAhead`` threads: the
tallies take a lock. The SDK calls ``log_sync_costs`` once per stream at the end of a run that
completed; the last call also logs the totals.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import metrics
from singer_sdk.streams import Stream
from typing_extensions import override

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterable, Mapping
    from types import TracebackType

    from singer_sdk import Tap


@dataclass
class StreamTally:
    """What one stream did this run."""

    records: int = 0
    requests: int = 0
    pages: int = 0
    seconds: float = 0.0


class RunSummary:
    """Thread-safe tallies per stream; one per tap instance, that is per run (``of(tap)``)."""

    _of_tap: ClassVar[weakref.WeakKeyDictionary[Tap, RunSummary]] = weakref.WeakKeyDictionary()
    _of_tap_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def of(cls, tap: Tap) -> RunSummary:
        """The summary of ``tap``'s run, made the first time one of its streams asks."""
        with cls._of_tap_lock:
            summary = cls._of_tap.get(tap)
            if summary is None:
                summary = cls._of_tap[tap] = cls(tap.logger, tap.streams)
            return summary

    def __init__(self, log: logging.Logger, streams: Iterable[str]) -> None:
        """``streams`` are every stream of the tap: the totals follow the last one's line."""
        self.log = log
        self._pending = set(streams)
        self._tallies: dict[str, StreamTally] = {}
        self._synced = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()

    def add(self, stream: str, **amounts: float) -> None:
        """Add ``amounts`` (``records=1``, ``requests=1``, ``seconds=0.3`` ...) to a stream."""
        with self._lock:
            tally = self._tallies.setdefault(stream, StreamTally())
            for name, amount in amounts.items():
                setattr(tally, name, getattr(tally, name) + amount)

    def tally(self, stream: str) -> StreamTally:
        """A copy of the stream's tallies so far."""
        with self._lock:
            found = self._tallies.get(stream, StreamTally())
            return StreamTally(found.records, found.requests, found.pages, found.seconds)

    def stream_ended(self, stream: str, bookmark: str | None) -> None:
        """Log the stream's line (None: not synced, no line), and the totals after the last."""
        if bookmark is not None:
            self.log.info(
                "Summary for stream '%s': %s; %s", stream, _tally_text(self.tally(stream)), bookmark
            )
        with self._lock:
            self._pending.discard(stream)
            self._synced += bookmark is not None
            if self._pending:
                return
            tallies = self._tallies.values()
            total = StreamTally(
                sum(t.records for t in tallies),
                sum(t.requests for t in tallies),
                sum(t.pages for t in tallies),
                time.monotonic() - self._started,
            )
        self.log.info("Summary: %s from %d streams", _tally_text(total), self._synced)


def _tally_text(tally: StreamTally) -> str:
    counts = (_count(tally.records, "record"), _count(tally.requests, "request"))
    return f"{', '.join(counts)}, {_count(tally.pages, 'page')} in {tally.seconds:.1f}s"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def bookmark_text(state: Mapping[str, Any]) -> str:
    """Where a stream's bookmark stands, as its STATE holds it."""
    if "replication_key_value" in state:
        return f"bookmark {state.get('replication_key')} = {state['replication_key_value']}"
    partitions = [p for p in state.get("partitions") or () if "replication_key_value" in p]
    if partitions:
        key = partitions[0].get("replication_key")
        latest = max(str(p["replication_key_value"]) for p in partitions)
        return f"bookmarks for {len(partitions)} partitions, latest {key} = {latest}"
    return "no bookmark"


class _TalliedCounter(metrics.Counter):
    """The SDK's record counter, adding its total to the run summary when it exits.

    Once, not per record: the summary's lock would cost a tenth of the tap's time per record.
    """

    def __init__(self, counter: metrics.Counter, add: Callable[[int], None]) -> None:
        super().__init__(counter.metric, counter.tags, log_interval=counter.log_interval)
        self._add = add
        self._total = 0

    @override
    def increment(self, value: int = 1) -> None:
        self._total += value
        super().increment(value)

    @override
    def exit(self) -> None:
        self._add(self._total)
        self._total = 0
        super().exit()


class _TalliedTimer(metrics.Timer):
    """The SDK's sync timer, also adding the time to the run summary."""

    def __init__(self, timer: metrics.Timer, add: Callable[[float], None]) -> None:
        super().__init__(timer.metric, timer.tags)
        self._add = add

    @override
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self._add(self.elapsed())
        super().__exit__(exc_type, exc_val, exc_tb)


class SummarizedStream(Stream):
    """Adds a stream's records and time to the run summary, and logs its line at the end."""

    @property
    def run_summary(self) -> RunSummary:
        """The tap's one summary for this run."""
        return RunSummary.of(self._tap)

    @override
    def get_record_counter(
        self,
        *,
        endpoint: str | None = None,
        log_interval: float = metrics.DEFAULT_LOG_INTERVAL,
    ) -> metrics.Counter:
        """The SDK's counter; every record it counts is counted in the summary too."""
        counter = super().get_record_counter(endpoint=endpoint, log_interval=log_interval)
        return _TalliedCounter(counter, lambda n: self.run_summary.add(self.name, records=n))

    @override
    def get_sync_timer(self) -> metrics.Timer:
        """The SDK's timer; the time it measures is added to the summary."""
        timer = super().get_sync_timer()
        return _TalliedTimer(timer, lambda s: self.run_summary.add(self.name, seconds=s))

    @override
    def log_sync_costs(self) -> None:
        """Called once per stream at the end of the run: the stream's summary line."""
        super().log_sync_costs()
        synced = self.selected or self.has_selected_descendents
        # Only a synced stream's state is read: reading it would add an empty bookmark entry.
        self.run_summary.stream_ended(
            self.name, bookmark_text(self.stream_state) if synced else None
        )
