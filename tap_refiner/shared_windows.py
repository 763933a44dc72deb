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

The spool folder is a temporary directory removed when the tap is collected or the process
exits; a process killed with ``-9`` leaves it in the system's temporary directory.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from datetime import datetime

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class SpooledWindow:
    """One fully read window: its raw items in a file, one JSON document a line."""

    def __init__(self, key: str, path: Path, count: int) -> None:
        """``key`` is the window's query, ``count`` how many items the file holds."""
        self.key = key
        self.path = path
        self.count = count

    def items(self) -> Iterator[dict[str, Any]]:
        """The items, as the API sent them, in the order it sent them."""
        with self.path.open("rb") as lines:
            for line in lines:
                yield _decoder.decode(line)


class SharedWindows:
    """One per tap instance, that is per run; safe to use from reading threads."""

    def __init__(self) -> None:
        """Nothing spooled or guessed yet; the folder is made on first use."""
        self._lock = threading.Lock()
        self._spooled: dict[str, SpooledWindow] = {}
        self._waiting: set[str] | None = None
        self._oldest: dict[str, datetime | None] = {}
        self._folder: Path | None = None
        self._numbers = itertools.count()

    # -- who reads ----------------------------------------------------------------------------
    def start(self, reader: str, readers: Iterable[str]) -> None:
        """``reader`` begins; ``readers`` are the run's selected windowed streams."""
        with self._lock:
            if self._waiting is None:
                self._waiting = set(readers)
            self._waiting.discard(reader)

    def finish(self) -> None:
        """A windowed stream is done: drop every spool no stream still waits for."""
        with self._lock:
            if self._waiting:
                return
            spooled, self._spooled = list(self._spooled.values()), {}
        for window in spooled:
            window.path.unlink(missing_ok=True)

    # -- windows ------------------------------------------------------------------------------
    def read(self, key: str, items: Callable[[], Iterable[dict[str, Any]]]) -> SpooledWindow:
        """The window ``key``: spooled by an earlier stream, else ``items()`` spooled now."""
        with self._lock:
            window = self._spooled.get(key)
        if window is not None:
            return window
        path = self._new_path()
        count = 0
        try:
            with path.open("wb") as out:
                for item in items():
                    out.write(_encoder.encode(item))
                    out.write(b"\n")
                    count += 1
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        window = SpooledWindow(key, path, count)
        with self._lock:
            self._spooled[key] = window
        return window

    def written(self, window: SpooledWindow) -> None:
        """``window``'s records are written: keep it only for a stream that has not started."""
        with self._lock:
            if self._waiting:
                return
            self._spooled.pop(window.key, None)
        window.path.unlink(missing_ok=True)

    # -- the oldest response ------------------------------------------------------------------
    def oldest(self, key: str, guess: Callable[[], datetime | None]) -> datetime | None:
        """``guess()`` once per run for a query ``key``; later streams get the same answer."""
        if key not in self._oldest:
            self._oldest[key] = guess()
        return self._oldest[key]

    def _new_path(self) -> Path:
        with self._lock:
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="tap-refiner-windows-"))
                weakref.finalize(self, shutil.rmtree, self._folder, ignore_errors=True)
            return self._folder / f"window-{next(self._numbers)}.jsonl"
