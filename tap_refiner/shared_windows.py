"""What the run's windowed ``/responses`` streams share: read windows, and the oldest guess.

``responses`` and ``answers`` read the same endpoint with the same filters, window by window
(``tap_refiner.incremental``). With the same bookmark they ask exactly the same windows: the
settings are the same and the window end is the run's one "now" (the tap's start). Reading
each of them twice cost a second pass over every window, so:

- every window is read into a spool file (its raw items as JSON lines, in the API's order)
  before its records are written: memory stays at one page per reading thread however large
  the window, and windows read ahead wait on disk, not in memory;
- a spooled window is kept after its stream wrote it only while another selected windowed
  stream has not started yet; that stream takes it when its own window's query (bounds and
  filters) is exactly the same, and reads it from the API otherwise (other bookmark, other
  bounds). Nothing is kept once the last of them has started and written it;
- the first run's guess of the oldest response (one or two requests) is made once.

Spools are anonymous temporary files (``tempfile.TemporaryFile``): the system removes them when
they are closed or the process ends, ``kill -9`` included. A window being read or waiting to be
written has its own file (at most ``max_concurrent_requests`` + 1 of them); a window kept for a
later stream is copied into one file of kept windows, so a run of many windows holds few files.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from typing import IO, TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from datetime import datetime

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


class SharedWindows:
    """One per tap instance, that is per run; windows are read on ``FetchAhead`` threads."""

    def __init__(self) -> None:
        """Nothing spooled, kept or guessed yet."""
        self._lock = threading.Lock()
        self._kept: dict[str, SpooledWindow] = {}
        self._kept_file: IO[bytes] | None = None
        self._spools: set[IO[bytes]] = set()  # windows read, not yet written
        self._waiting: set[str] | None = None
        self._oldest: dict[str, datetime | None] = {}

    # -- who reads ----------------------------------------------------------------------------
    def start(self, reader: str, readers: Iterable[str]) -> None:
        """``reader`` begins; ``readers`` are the run's selected windowed streams."""
        with self._lock:
            if self._waiting is None:
                self._waiting = set(readers)
            self._waiting.discard(reader)

    def finish(self) -> None:
        """A windowed stream is done: drop what it read but did not write, and what is kept.

        Windows read but not written are those of a stream that stopped early; the kept
        windows go once no stream waits for them.
        """
        with self._lock:
            files, self._spools = list(self._spools), set()
            if not self._waiting and self._kept_file is not None:
                files.append(self._kept_file)
                self._kept_file, self._kept = None, {}
        for file in files:
            file.close()

    # -- windows ------------------------------------------------------------------------------
    def read(self, key: str, items: Callable[[], Iterable[dict[str, Any]]]) -> SpooledWindow:
        """The window ``key``: kept by an earlier stream, else ``items()`` spooled now."""
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None:
            return kept
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed in written() or finish()
        with self._lock:
            self._spools.add(spool)
        count = 0
        try:
            for count, item in enumerate(items(), start=1):  # noqa: B007 - the count is kept
                spool.write(_encoder.encode(item))
                spool.write(b"\n")
            spool.flush()
        except BaseException:
            with self._lock:
                self._spools.discard(spool)
            spool.close()
            raise
        return SpooledWindow(key, spool, spool.tell(), count=count)

    def written(self, window: SpooledWindow) -> None:
        """``window``'s records are written: keep it only for a stream that has not started."""
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
