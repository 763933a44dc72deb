"""Where pacing slots are booked: in this process, or in a file every process on the machine shares.

Refiner's limits are per key (4000/min) and per user id (100/min), whoever spends them: an hourly
extract overlapping the daily reverse sync, or two reverse syncs, must share one budget. A
``Pacer`` keeps only the GCRA arithmetic; the *theoretical arrival time* (TAT) of each schedule
lives in a store:

- ``LocalSchedule``: a dict, for one process (tests, or a pacing folder that cannot be used);
- ``SharedSchedule``: a small SQLite file in a per-user cache directory, named by a hash of the
  API URL and key (never the key itself), one row per schedule. Each booking is one
  read-modify-write under an exclusive ``flock`` (the kernel wakes the next waiter at once, where
  SQLite's own busy handler would sleep in steps of milliseconds). A process killed with ``-9``
  loses its ``flock`` with its file descriptors, so it never leaves the budget locked; it can
  only have booked the slots it was about to use, which pass within a second.

TATs in the shared file are wall-clock seconds (``time.time``: the one clock every process and
a reboot agree on). A TAT implausibly far ahead (a clock stepped back, a stray file) is treated
as free rather than obeyed.

The folder holds one schedule per URL+key ever used, so each open sweeps the schedules of others
unused for a week (all of a schedule's files untouched; only files named like ours). A folder
that cannot be used (a read-only or missing home, a file where the folder should be) does not stop
anything: :func:`schedule_for` falls back to this process's schedule with one WARNING naming
``pacing_dir``, since pacing alone still keeps this process under the limits.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    import logging

R = TypeVar("R")
#: A step gets a schedule's TAT and returns its new TAT and the caller's result.
Step = Callable[[float], tuple[float, R]]

#: A booking further ahead than this is not believed (429 holds are seconds, bookings less).
MAX_AHEAD_SECONDS = 600.0
#: Schedules idle this long are deleted (per-user rows would otherwise grow with every user).
IDLE_SECONDS = 60.0


class Schedule(Protocol):
    """Atomic read-modify-write of named TATs, on the clock ``clock`` the TATs are read on."""

    clock: Callable[[], float]

    def update(self, name: str, step: Step[R], now: float) -> R:
        """Apply ``step`` to ``name``'s TAT atomically; return what ``step`` returned."""
        ...

    def peek(self, name: str) -> float:
        """``name``'s TAT without booking anything (0 when unknown)."""
        ...

    def forget_idle(self, now: float) -> None:
        """Drop schedules whose TAT is more than ``IDLE_SECONDS`` before ``now``."""
        ...

    def __len__(self) -> int:
        """How many schedules are kept."""
        ...


def _believable(tat: float, now: float) -> float:
    return 0.0 if tat > now + MAX_AHEAD_SECONDS else tat


class LocalSchedule:
    """TATs of this process only."""

    def __init__(self) -> None:
        """An empty dict under one lock."""
        self._tat: dict[str, float] = {}
        self._lock = threading.Lock()
        self.clock: Callable[[], float] = time.monotonic

    def update(self, name: str, step: Step[R], now: float) -> R:
        """See ``Schedule.update``."""
        with self._lock:
            tat, result = step(_believable(self._tat.get(name, 0.0), now))
            self._tat[name] = tat
            return result

    def peek(self, name: str) -> float:
        """See ``Schedule.peek``."""
        return self._tat.get(name, 0.0)

    def forget_idle(self, now: float) -> None:
        """See ``Schedule.forget_idle``."""
        with self._lock:
            for name in [n for n, tat in self._tat.items() if tat < now - IDLE_SECONDS]:
                del self._tat[name]

    def __len__(self) -> int:
        """See ``Schedule.__len__``."""
        return len(self._tat)


class SharedSchedule:
    """TATs in a SQLite file shared by every process that opens the same path."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the file and its lock file, private to this user."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self.clock: Callable[[], float] = time.time
        self._lock_fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        self._thread_lock = threading.Lock()
        try:
            os.utime(self._lock_fd)  # in use now: the sweep of other processes keeps it
            with self._exclusive():
                self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=OFF")  # a lost booking after a power cut is ok
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS schedule (name TEXT PRIMARY KEY, tat REAL NOT NULL)"
                )
            path.chmod(0o600)  # the file may already exist with a wider mode
        except BaseException:
            os.close(self._lock_fd)
            raise

    def _exclusive(self) -> _Flock:
        return _Flock(self._thread_lock, self._lock_fd)

    def update(self, name: str, step: Step[R], now: float) -> R:
        """See ``Schedule.update``; one process at a time, whichever thread it comes from."""
        with self._exclusive():
            row = self._db.execute("SELECT tat FROM schedule WHERE name = ?", (name,)).fetchone()
            tat, result = step(_believable(row[0] if row else 0.0, now))
            self._db.execute(
                "INSERT INTO schedule (name, tat) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET tat = excluded.tat",
                (name, tat),
            )
            return result

    def peek(self, name: str) -> float:
        """See ``Schedule.peek`` (a read needs no lock: WAL readers see the last booking)."""
        with self._thread_lock:
            row = self._db.execute("SELECT tat FROM schedule WHERE name = ?", (name,)).fetchone()
        return float(row[0]) if row else 0.0

    def forget_idle(self, now: float) -> None:
        """See ``Schedule.forget_idle``."""
        with self._exclusive():
            self._db.execute("DELETE FROM schedule WHERE tat < ?", (now - IDLE_SECONDS,))

    def __len__(self) -> int:
        """See ``Schedule.__len__``."""
        with self._thread_lock:
            return int(self._db.execute("SELECT count(*) FROM schedule").fetchone()[0])

    def close(self) -> None:
        """Close the database and the lock file."""
        with self._thread_lock:
            self._db.close()
            os.close(self._lock_fd)


class _Flock:
    """This process's thread lock, then the machine-wide ``flock`` on the lock file."""

    def __init__(self, thread_lock: threading.Lock, fd: int) -> None:
        self._thread_lock = thread_lock
        self._fd = fd

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()


STALE_FILE_SECONDS = 7 * 86_400
#: A schedule's files (``shared_schedule_path``): the sweep touches nothing else in the folder.
SCHEDULE_FILE = re.compile(r"^([0-9a-f]{24})\.(?:sqlite|sqlite-wal|sqlite-shm|lock)$")


def open_shared_schedule(directory: Path, api_url: str, api_key: str) -> SharedSchedule:
    """The schedule file of this Refiner environment, sweeping others unused for a week."""
    path = shared_schedule_path(directory, api_url, api_key)
    schedule = SharedSchedule(path)
    sweep_stale_schedules(directory, keep=path.stem)
    return schedule


def sweep_stale_schedules(directory: Path, *, keep: str, now: float | None = None) -> None:
    """Remove the schedules (every file of each) whose files were all untouched for a week.

    A schedule in use is touched: each booking writes its WAL, each open its lock file. So one
    untouched for a week belongs to no running process (e.g. the emulators of past test runs),
    and the folder holds only the environments of the last week. Another process may be sweeping
    too, hence every error is ignored.
    """
    cutoff = (time.time() if now is None else now) - STALE_FILE_SECONDS
    groups: dict[str, list[Path]] = {}
    with contextlib.suppress(OSError):
        for entry in directory.iterdir():
            found = SCHEDULE_FILE.match(entry.name)
            if found and found.group(1) != keep:
                groups.setdefault(found.group(1), []).append(entry)
    for files in groups.values():
        if all(_untouched_since(file, cutoff) for file in files):
            for file in files:
                with contextlib.suppress(OSError):
                    file.unlink(missing_ok=True)


def _untouched_since(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return True  # already gone
    except OSError:
        return False


PACING_DIR_ENV = "REFINER_PACING_DIR"


def schedule_for(
    pacing_dir: str | None, api_url: str, api_key: str, *, log: logging.Logger
) -> Schedule:
    """The machine-wide schedule; if its folder cannot be used, this process's (one WARNING).

    ``pacing_dir`` is the setting (None or empty: :func:`default_pacing_dir`).
    """
    folder = pacing_dir or "the default folder"
    try:
        folder = str(Path(pacing_dir) if pacing_dir else default_pacing_dir())
        return open_shared_schedule(Path(folder), api_url, api_key)
    except (OSError, RuntimeError, sqlite3.Error) as exc:
        log.warning(
            "Setting `pacing_dir`: the folder %s cannot be used (%s), so this process paces on "
            "its own: the budget of this key is no longer shared with other tap-refiner, "
            "target-refiner and refiner-api processes on this machine. Set `pacing_dir` (or "
            "$%s) to a writable folder.",
            folder,
            exc,
            PACING_DIR_ENV,
        )
        return LocalSchedule()


def default_pacing_dir() -> Path:
    """``$REFINER_PACING_DIR``, else ``$XDG_CACHE_HOME/refiner-singer/pacing`` (``~/.cache``).

    Per user, no root. The variable lets a whole process tree (a test, a CI job) use its own
    schedule without a setting in every config.
    """
    if os.environ.get(PACING_DIR_ENV):
        return Path(os.environ[PACING_DIR_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "refiner-singer" / "pacing"


def shared_schedule_path(directory: Path, api_url: str, api_key: str) -> Path:
    """The file for one Refiner environment: a hash of URL and key, so the key never shows."""
    return directory / f"{environment_digest(api_url, api_key)}.sqlite"


def environment_digest(api_url: str, api_key: str) -> str:
    """One Refiner environment's name in a schedule store: a hash of URL and key."""
    return hashlib.sha256(f"{api_url.rstrip('/')}\n{api_key}".encode()).hexdigest()[:24]


def user_schedule_name(user_key: str) -> str:
    """A user's schedule row name; hashed so the file holds no user ids or emails."""
    return "user:" + hashlib.sha256(user_key.encode()).hexdigest()[:20]
