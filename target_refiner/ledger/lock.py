"""One writer per ledger: an exclusive lock file beside it, naming its holder.

Two targets writing one ledger would each skip what the other is about to send, and interleave
acknowledgements. ``flock`` is released by the kernel when the holder exits, even on kill -9,
so a crashed run never leaves the ledger locked.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import time
from typing import TYPE_CHECKING

from target_refiner.errors import RunStoppedError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

POLL_SECONDS = 0.2


class LedgerInUseError(RunStoppedError):
    """Another target holds the ledger (and we were not told to wait long enough)."""


def busy_message(ledger: str, holder: Mapping[str, object], waited: float) -> str:
    """The line a second target stops with: ``ledger`` is in use by ``holder``."""
    who = (
        f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
        f"started {holder.get('started_at', '?')}"
    )
    waited_text = f" after waiting {waited:g}s" if waited > 0 else ""
    return (
        f"{ledger} is in use by another target-refiner ({who}){waited_text}. Only one run may "
        "write a ledger at a time: wait for it to finish, or set `ledger_wait_seconds` to wait "
        "for it."
    )


class LedgerLock:
    """Held for the whole run; ``wait_seconds`` > 0 waits for the holder instead of refusing."""

    def __init__(self, path: Path, *, wait_seconds: float = 0.0) -> None:
        """Take the lock or raise :class:`LedgerInUseError` naming the holder."""
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            msg = (
                f"Cannot open the ledger's lock file {path} ({exc}): setting `state_dir` must be "
                "a folder this user can write."
            )
            raise RunStoppedError(msg) from None
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        while not self._try_lock():
            if time.monotonic() >= deadline:
                holder = self.holder()
                os.close(self._fd)
                raise LedgerInUseError(self._busy_message(holder, wait_seconds))
            time.sleep(POLL_SECONDS)
        started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": started}
        data = json.dumps(info).encode()
        os.pwrite(self._fd, data, 0)
        os.ftruncate(self._fd, len(data))

    def _try_lock(self) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def holder(self) -> dict[str, object]:
        """What the holder wrote: pid, host, start time (empty if it has not written yet)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _busy_message(self, holder: dict[str, object], waited: float) -> str:
        return busy_message(f"The ledger {self.path.with_suffix('.sqlite')}", holder, waited)

    def release(self) -> None:
        """Unlock (idempotent); the file stays, so the next holder reuses it."""
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1
