"""When a STATE may go out: after every row received before it is acknowledged, and at once.

:class:`AckTracker` numbers the rows handed to the sender; a STATE that arrives is queued behind
the rows numbered so far and released by whichever thread acknowledges the last of them (so
within milliseconds, not at the SDK's periodic drain). :class:`StateOutbox` writes what is
released: never the same STATE twice in a row, nothing in a dry run (a bookmark must not move
past rows that were not sent), and with ``max_reject_ratio`` only the newest STATE, kept back
until the end-of-run check passes, so a run that fails the ratio never moves the bookmark.

A *hold* (``open(hold=True)``) keeps every later STATE back like an unacknowledged row, without
counting as one: a mirror_segment stream holds from its SCHEMA until its segment's diff is
applied at the end of the input, while ``outstanding`` (back-pressure, the SDK's drains) only
counts rows, so waiting for rows never waits for the end of the input.
"""

from __future__ import annotations

import collections
import copy
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterable


class AckTracker:
    """Orders acknowledgements and releases each STATE once every row before it is done."""

    def __init__(self, emit: Callable[[dict], None]) -> None:
        """``emit`` writes a STATE message; it is called under this tracker's lock, in order."""
        self._emit = emit
        self._next = 0
        #: Open sequence numbers, oldest first; the value says whether it is a hold.
        self._open: collections.OrderedDict[int, bool] = collections.OrderedDict()
        self._rows = 0  # open entries that are rows, not holds
        self._states: collections.deque[tuple[int, dict]] = collections.deque()
        self._cond = threading.Condition()

    def open(self, *, hold: bool = False) -> int:
        """Number a row that is not acknowledged yet (or a hold: see the module doc)."""
        with self._cond:
            seq = self._next
            self._next += 1
            self._open[seq] = hold
            self._rows += not hold
            return seq

    def close(self, seq: int) -> None:
        """Acknowledge a row (or end a hold); emit the newest STATE that waits for nothing."""
        with self._cond:
            hold = self._open.pop(seq, None)
            self._rows -= hold is False
            self._release()
            self._cond.notify_all()

    def close_all(self, seqs: Iterable[int]) -> None:
        """Acknowledge many rows at once (one lock, one release: a re-sync's batch)."""
        with self._cond:
            for seq in seqs:
                hold = self._open.pop(seq, None)
                self._rows -= hold is False
            self._release()
            self._cond.notify_all()

    def add_state(self, state: dict) -> None:
        """A STATE arrived: it covers every row numbered so far."""
        with self._cond:
            self._states.append((self._next, state))
            self._release()

    def _release(self) -> None:
        watermark = next(iter(self._open)) if self._open else self._next
        ready: dict | None = None
        while self._states and self._states[0][0] <= watermark:
            ready = self._states.popleft()[1]
        if ready is not None:
            self._emit(ready)

    @property
    def outstanding(self) -> int:
        """Rows submitted and not acknowledged (a racy read is fine for back-pressure)."""
        return self._rows

    def wait_below(self, limit: int, stop: threading.Event, timeout: float | None = None) -> bool:
        """Block until fewer than ``limit`` rows are outstanding (or ``stop`` is set)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._rows < limit or stop.is_set(), timeout=timeout)

    def wait_rows_before(self, seq: int, stop: threading.Event) -> None:
        """Block until every row numbered before ``seq`` is acknowledged (holds do not count)."""
        with self._cond:
            self._cond.wait_for(lambda: stop.is_set() or not self._rows_open_before(seq))

    def _rows_open_before(self, seq: int) -> bool:
        for open_seq, hold in self._open.items():
            if open_seq >= seq:
                return False
            if not hold:
                return True
        return False

    def wake(self) -> None:
        """Wake every waiter (after a fatal error)."""
        with self._cond:
            self._cond.notify_all()


class StateOutbox:
    """Writes each released STATE once; keeps it back while the reject ratio is undecided."""

    def __init__(
        self, write: Callable[[dict], None], *, hold: bool, dry_run: bool, log: logging.Logger
    ) -> None:
        """``write`` is the SDK's STATE writer; ``hold`` is set when ``max_reject_ratio`` is."""
        self._write = write
        self._hold = hold
        self._dry_run = dry_run
        self._log = log
        self._lock = threading.Lock()
        self._last_written: dict | None = None
        self._held: dict | None = None

    def put(self, state: dict) -> None:
        """A safe STATE (from any thread): write it now, or keep it while holding."""
        with self._lock:
            if self._hold:
                self._held = copy.deepcopy(state)
                return
            self._write_now(state)

    def release(self) -> None:
        """The reject ratio passed: write the newest STATE kept back, and stop holding."""
        with self._lock:
            self._hold = False
            if self._held is not None:
                self._write_now(self._held)

    def _write_now(self, state: dict) -> None:
        if state == self._last_written:
            return
        if self._dry_run:
            self._log.debug("Dry run: not emitting STATE")
            return
        self._write(state)
        self._last_written = copy.deepcopy(state)
