"""What the run's windowed ``/responses`` streams share: read windows, and the oldest guess.

``responses`` and ``answers`` read the same endpoint with the same filters, window by window
(``tap_refiner.incremental``). With the same bookmark they ask exactly the same windows: the
settings are the same and the window end is the run's one "now" (the tap's start). Reading
each of them twice cost a second pass over every window, so:

- every window is read into a spool file (its raw items as JSON lines, in the API's order)
  before its records are written: memory stays at one page per reading thread however large
  the window, and windows read ahead wait on disk, not in memory;
- when the other selected windowed stream asks exactly the same windows (same queries: the
  usual case, both bookmarks equal), the two are written *in turns* (:class:`Lockstep`): the
  first stream to sync (the leader) starts the other's SDK sync on a thread and they alternate,
  one window each: the leader's records and STATE for window i, then the follower's from the
  same spool, which is then closed. Never both at once, so messages never interleave within a
  line; Singer lets streams interleave. Temporary disk holds the windows read ahead, not the
  whole run, and each window is still requested once. When the SDK later comes to the
  follower, it finds it synced (:meth:`SharedWindows.synced`);
- otherwise (other bookmarks, BATCH mode) a spooled window is kept after its stream wrote it
  only while another selected windowed stream has not started yet; that stream takes it when
  its own window's query (bounds and filters) is exactly the same, and reads it from the API
  otherwise. Nothing is kept once the last of them has started and written it;
- the first run's guess of the oldest response (one or two requests) is made once.

Spools are anonymous temporary files (``tempfile.TemporaryFile``): the system removes them when
they are closed or the process ends, ``kill -9`` included. A window being read or waiting to be
written has its own file (at most ``max_concurrent_requests`` + 1 of them); a window kept for a
later stream is copied into one file of kept windows, so a run of many windows holds few files.

Reading ahead is bounded by bytes too (``READ_AHEAD_BYTES``): a window read ahead of the one in
turn waits, before its first request and between its pages (the reader calls :meth:`make_room`),
while the spools alive (read, being read, or waiting for the follower) hold more than the
budget, and goes on once windows before it are written. Between pages, not items: a reader
paused mid-page held a parsed page, up to 16 of them at once (issue 18). The window in turn
never waits, so peak temporary disk is about one window (two in turns) plus the budget and a
page per reader, however many or large the windows: a longer history reads no more ahead.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from typing import IO, TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from datetime import datetime

#: A stream that may follow: its name, its window keys, and its SDK sync.
Partner = tuple[str, "Callable[[], list[str]]", "Callable[[], None]"]

#: Bytes of spooled windows beyond the one in turn that may wait on disk before reading pauses.
READ_AHEAD_BYTES = 8 * 1024 * 1024
#: How often a paused reader looks again (seconds): a window written frees its bytes at once.
_PAUSE = 0.02

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class SpooledWindow:
    """One fully read window: its raw items, one JSON document a line, in part of a file."""

    def __init__(
        self, key: str, file: IO[bytes], size: int, offset: int = 0, *, count: int = 0
    ) -> None:
        """``key`` is the window's query; its ``count`` lines are ``size`` bytes at ``offset``."""
        self.key = key
        self.file = file
        self.size = size
        self.offset = offset
        self.count = count

    def items(self) -> Iterator[dict[str, Any]]:
        """The items, as the API sent them, in the order it sent them."""
        position, end = self.offset, self.offset + self.size
        while position < end:
            self.file.seek(position)  # each reader keeps its own place in a shared file
            line = self.file.readline()
            position += len(line)
            yield _decoder.decode(line)


class WindowsAbandonedError(RuntimeError):
    """The other stream of a lockstep stopped: this one cannot go on in turns."""


class Lockstep:
    """Two streams writing the same windows in turns: the leader's window i, then the follower's.

    The leader hands each spooled window over once written; the follower writes it from the
    same file and closes it. Either side stopping wakes the other with an error.
    """

    def __init__(self, leader: str, follower: str, keys: list[str]) -> None:
        """The follower's SDK sync is started by the leader (:meth:`SharedWindows.pair`)."""
        self.leader = leader
        self.follower = follower
        self.keys = keys
        self._cond = threading.Condition()
        self._done = {leader: -1, follower: -1}  # the last window each has fully written
        self._handed: dict[str, SpooledWindow] = {}
        self.ready = False  # the follower's sync has reached its windows
        self.finished = False  # the follower's sync is over
        self.completed = False  # ... and it went through every window
        self._abandoned = False
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def _wait(self, condition: Callable[[], bool]) -> None:
        """Under the lock: wait for ``condition``, or raise once the other side has stopped."""
        self._cond.wait_for(lambda: condition() or self._abandoned)
        if not condition():
            raise self.error or WindowsAbandonedError(f"{self.leader}/{self.follower} stopped")

    def take_turn(self, reader: str, index: int) -> None:
        """Wait until ``reader`` may write window ``index``."""
        other, after = (self.follower, index - 1) if reader == self.leader else (self.leader, index)
        with self._cond:
            self._wait(lambda: self._done[other] >= after)

    def takes_turns(self, reader: str | None) -> bool:
        """Whether ``reader`` is one of the two."""
        return reader in self._done

    def through(self) -> bool:
        """Whether the leader has written every window."""
        with self._cond:
            return self._done[self.leader] == len(self.keys) - 1

    def end_turn(self, reader: str, index: int) -> None:
        """``reader`` has written window ``index`` and its STATE."""
        with self._cond:
            self._done[reader] = index
            self._cond.notify_all()

    def hand(self, window: SpooledWindow) -> None:
        """The leader wrote ``window``: the follower's now (it closes the file)."""
        with self._cond:
            if not self._abandoned:
                self._handed[window.key] = window
                self._cond.notify_all()
                return
        window.file.close()

    def take(self, key: str) -> SpooledWindow:
        """The follower's window ``key``, once the leader has handed it over."""
        with self._cond:
            self._wait(lambda: key in self._handed)
            return self._handed.pop(key)

    def mark(self, *, ready: bool = False, finished: bool = False) -> None:
        """The follower reached its windows, or its sync is over."""
        with self._cond:
            self.ready = self.ready or ready
            self.finished = self.finished or finished
            self._cond.notify_all()

    def wait_ready(self) -> None:
        """Until the follower has written its SCHEMA and reached its windows (or stopped).

        The leader waits for this, so the two never write at once.
        """
        with self._cond:
            self._cond.wait_for(lambda: self.ready or self.finished)

    def abandon(self, error: BaseException | None = None) -> None:
        """One side stopped: wake the other; drop windows handed and not taken."""
        with self._cond:
            self._abandoned = True
            self.error = self.error or error
            handed, self._handed = list(self._handed.values()), {}
            self._cond.notify_all()
        for window in handed:
            window.file.close()


class SharedWindows:
    """One per tap instance, that is per run; windows are read on ``FetchAhead`` threads."""

    def __init__(self, read_ahead_bytes: int = READ_AHEAD_BYTES) -> None:
        """Nothing spooled, kept or guessed yet; ``read_ahead_bytes`` bounds reading ahead."""
        self.read_ahead_bytes = read_ahead_bytes
        self._alive: dict[IO[bytes], int] = {}  # every spool not closed yet, and its bytes
        self._lock = threading.Lock()
        self._kept: dict[str, SpooledWindow] = {}
        self._kept_file: IO[bytes] | None = None
        self._spools: set[IO[bytes]] = set()  # windows read, not yet written
        self._waiting: set[str] | None = None
        self._oldest: dict[str, datetime | None] = {}
        self._lockstep: Lockstep | None = None
        self._synced: set[str] = set()  # followers that wrote every window in turns
        self._page_bytes = 0  # the largest page spooled yet: what a reader ahead reserves
        self._reserved = 0  # pages being read ahead, at _page_bytes each
        self._page = threading.local()  # this thread's page: bytes spooled, bytes reserved

    # -- who reads ----------------------------------------------------------------------------
    def start(self, reader: str, readers: Iterable[str]) -> None:
        """``reader`` begins; ``readers`` are the run's selected windowed streams."""
        with self._lock:
            if self._waiting is None:
                self._waiting = set(readers)
            self._waiting.discard(reader)

    def started(self, reader: str) -> bool:
        """Whether ``reader`` has begun (or no windowed stream has yet: then False)."""
        with self._lock:
            return self._waiting is not None and reader not in self._waiting

    def finish(self, reader: str | None = None) -> None:
        """A windowed stream is done: drop what it read but did not write, and what is kept.

        Windows read but not written are those of a stream that stopped early; the kept
        windows go once no stream waits for them. A leader waits for its follower's sync to
        end (and raises its error, if the leader itself got through).
        """
        lockstep = self._lockstep
        if lockstep is not None and reader == lockstep.follower:
            return  # its windows were the leader's; the leader's read-ahead is not its to drop
        if lockstep is not None and reader == lockstep.leader:
            self._end_lockstep(lockstep)
        with self._lock:
            files, self._spools = list(self._spools), set()
            if not self._waiting and self._kept_file is not None:
                files.append(self._kept_file)
                self._kept_file, self._kept = None, {}
        for file in files:
            file.close()

    # -- two streams in turns -----------------------------------------------------------------
    def pair(self, reader: str, keys: list[str], others: Iterable[Partner]) -> None:
        """Before ``reader`` writes its windows (``keys``): lead a partner asking the same ones.

        ``others`` are the streams still to come (name, their window keys, their SDK sync).
        The first whose keys are exactly ``keys`` syncs on a thread, in turns with ``reader``.
        """
        lockstep = self._lockstep
        if lockstep is not None and lockstep.follower == reader:
            if keys != lockstep.keys:  # same settings and state: cannot happen
                lockstep.abandon(WindowsAbandonedError(f"{reader} asks other windows"))
                raise lockstep.error  # type: ignore[misc]
            lockstep.mark(ready=True)
            return
        if lockstep is not None or not keys:
            return
        for name, their_keys, sync in others:
            if their_keys() == keys:
                self._lead(Lockstep(reader, name, keys), sync)
                return

    def _lead(self, lockstep: Lockstep, sync: Callable[[], None]) -> None:
        self._lockstep = lockstep

        def follow() -> None:
            try:
                sync()
                lockstep.completed = True
            except BaseException as exc:  # noqa: BLE001 - handed to the leader's thread
                lockstep.abandon(exc)
            finally:
                lockstep.mark(finished=True)

        lockstep.thread = threading.Thread(target=follow, name="tap-refiner-follower", daemon=True)
        lockstep.thread.start()
        lockstep.wait_ready()

    def _end_lockstep(self, lockstep: Lockstep) -> None:
        if lockstep.thread is None:
            return
        through = lockstep.through()
        if not through:  # e.g. the SDK's record limit (--test) ended the leader early
            lockstep.abandon()
        lockstep.thread.join()
        self._lockstep = None  # a follower that did not go through syncs again on its own
        if lockstep.completed:
            self._synced.add(lockstep.follower)
        if through and lockstep.error is not None:
            raise lockstep.error

    def follows(self, reader: str) -> bool:
        """Whether ``reader`` writes in turns after a leader (its windows are handed to it)."""
        return self._lockstep is not None and self._lockstep.follower == reader

    def synced(self, reader: str) -> bool:
        """True when ``reader`` already ran as a follower: the SDK's own sync has nothing to do."""
        return reader in self._synced

    def take_turn(self, reader: str, index: int) -> None:
        """Wait until ``reader`` may write its window ``index`` (at once outside a lockstep)."""
        if self._lockstep is not None and self._lockstep.takes_turns(reader):
            self._lockstep.take_turn(reader, index)

    def end_turn(self, reader: str, index: int) -> None:
        """``reader`` wrote its window ``index`` and its STATE: the other's turn."""
        if self._lockstep is not None and self._lockstep.takes_turns(reader):
            self._lockstep.end_turn(reader, index)

    # -- windows ------------------------------------------------------------------------------
    def read(
        self,
        key: str,
        items: Callable[[], Iterable[dict[str, Any]]],
        reader: str | None = None,
        *,
        early: Callable[[], bool] | None = None,
    ) -> SpooledWindow:
        """The window ``key``: spooled now by ``items()``, or kept, or handed by the leader.

        A follower's come from its leader; another stream's may be kept by an earlier one.
        While ``early()`` (the window is read ahead of the one in turn), its first request
        waits while the spools alive exceed the budget (:meth:`make_room`); ``items()`` calls
        ``make_room`` before each further page, so a paused reader holds no parsed page.
        """
        lockstep = self._lockstep
        if lockstep is not None and reader == lockstep.follower:
            return lockstep.take(key)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None:
            return kept
        if early is not None:
            self.make_room(early)  # before its first request: a held window holds no page
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed in written() or finish()
        with self._lock:
            self._spools.add(spool)
            self._alive[spool] = 0
        try:
            count = self._spool(spool, items())
        except BaseException:
            with self._lock:
                self._spools.discard(spool)
            spool.close()
            raise
        return SpooledWindow(key, spool, spool.tell(), count=count)

    def _spool(self, spool: IO[bytes], items: Iterable[dict[str, Any]]) -> int:
        """Write ``items`` to ``spool``, one JSON line each, counting its bytes; their count."""
        count = 0
        for count, item in enumerate(items, start=1):  # noqa: B007 - the count is kept
            line = _encoder.encode(item) + b"\n"
            spool.write(line)
            with self._lock:
                self._alive[spool] += len(line)
            self._page.spooled = getattr(self._page, "spooled", 0) + len(line)
        self._end_page()
        spool.flush()
        return count

    def spooled_bytes(self) -> int:
        """Bytes of every spool alive: read, being read, or waiting for a stream to write it."""
        with self._lock:
            return self._used() - self._reserved

    def make_room(self, early: Callable[[], bool]) -> None:
        """Before a page: wait while ``early()`` and the spools alive exceed the budget.

        A reader ahead then reserves a page (the largest yet) until its next page, so readers
        starting pages at once do not all overshoot the budget. The window in turn is never
        held (``early()`` false), so the windows before a held one are written and free their
        bytes; a reader stopped meanwhile raises on its next item.
        """
        self._end_page()
        while early():
            with self._lock:
                if self._used() + self._page_bytes <= self.read_ahead_bytes:
                    self._reserved += self._page_bytes
                    self._page.reserved = self._page_bytes
                    return
            time.sleep(_PAUSE)

    def _used(self) -> int:
        """Under the lock: bytes of the spools alive and of the pages reserved."""
        for file in [f for f in self._alive if f.closed]:
            del self._alive[file]
        return sum(self._alive.values()) + self._reserved

    def _end_page(self) -> None:
        """This thread's page is spooled: learn its size, release its reservation."""
        with self._lock:
            self._page_bytes = max(self._page_bytes, getattr(self._page, "spooled", 0))
            self._reserved -= getattr(self._page, "reserved", 0)
        self._page.spooled = self._page.reserved = 0

    def written(self, window: SpooledWindow, reader: str | None = None) -> None:
        """``window``'s records are written: hand it on, close it, or keep it for a later stream.

        A leader hands it to its follower, which closes it; otherwise it is kept only for a
        stream that has not started.
        """
        lockstep = self._lockstep
        if lockstep is not None and lockstep.takes_turns(reader):
            with self._lock:
                self._spools.discard(window.file)
            if reader == lockstep.leader:
                lockstep.hand(window)
            else:
                window.file.close()
            return
        with self._lock:
            keep = bool(self._waiting) and window.key not in self._kept
            if keep:
                self._keep(window)
            elif not self._waiting:
                self._kept.pop(window.key, None)
            own = window.file in self._spools
            self._spools.discard(window.file)
        if own:
            window.file.close()

    def _keep(self, window: SpooledWindow) -> None:
        """Copy ``window`` to the end of the file of kept windows (under the lock)."""
        if self._kept_file is None:
            self._kept_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finish()
        kept_file = self._kept_file
        offset = kept_file.seek(0, 2)
        window.file.seek(window.offset)
        shutil.copyfileobj(window.file, kept_file)
        kept_file.flush()
        self._kept[window.key] = SpooledWindow(
            window.key, kept_file, window.size, offset, count=window.count
        )

    # -- the oldest response ------------------------------------------------------------------
    def oldest(self, key: str, guess: Callable[[], datetime | None]) -> datetime | None:
        """``guess()`` once per run for a query ``key``; later streams get the same answer."""
        if key not in self._oldest:
            self._oldest[key] = guess()
        return self._oldest[key]
