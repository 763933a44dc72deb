"""Independent requests on a bounded pool of threads, their results in the order they were asked.

Why: the real API is a remote service (150-1000 ms a call), and most of the tap's requests do
not depend on each other: a report per form, type and day, a ``/responses`` date window. Asked
one after another, a run spends its time waiting; asked a few at a time, it waits once per
batch. Everything else stays as in a sequential run:

- results come back in the order of the items, whatever order they finish in, so a run writes
  exactly the records and STATE messages a sequential run (``max_concurrent_requests: 1``)
  writes, and a bookmark never moves past anything not yet written;
- at most ``workers`` + 1 items are submitted and not yet consumed, so threads, connections and
  memory stay bounded however many items there are;
- each worker thread has its own ``requests.Session`` (requests does not promise a shared
  session is thread-safe, psf/requests#2766); ``RefinerStream.requests_session`` hands it to
  the SDK's request path, so paging, retries and error checks are the usual ones;
- pacing stays with the run's one ``HttpPolicy``, which is thread-safe: every thread books its
  slots on the same per-key schedule, so the budget holds across threads (and processes);
- when the consumer stops (a failed item, an error, a closed generator) queued items are
  cancelled, running ones see ``stopping`` set, and the sessions are closed.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import requests

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable

T = TypeVar("T")
R = TypeVar("R")

#: ``max_concurrent_requests`` by default: Little's law gives 66.7 calls/s (the per-key limit)
#: x 0.24 s = 16 in flight, so up to about 240 ms a call the tap can use the whole budget, and
#: never holds more than 16 threads and connections (and 17 pending results).
DEFAULT_WORKERS = 16

_worker = threading.local()


def worker_session() -> requests.Session | None:
    """The calling worker thread's own session; None outside a pool (the stream's own is used)."""
    return getattr(_worker, "session", None)


class FetchAhead:
    """One use of a bounded pool: ``for result in FetchAhead(8).in_order(fetch, items): ...``."""

    def __init__(self, workers: int) -> None:
        """``workers`` threads at most; 1 runs every item in the calling thread, in order."""
        self.workers = max(int(workers), 1)
        #: Set once the consumer is done: long items (a window of many pages) stop early.
        self.stopping = threading.Event()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise ``CancelledError`` in an item once its result is no longer wanted."""
        if self.stopping.is_set():
            raise CancelledError

    def in_order(self, func: Callable[[T], R], items: Iterable[T]) -> Generator[R, None, None]:
        """``func(item)`` for every item, run ahead on the pool, yielded in the items' order."""
        if self.workers == 1:
            for item in items:
                yield func(item)
            return
        pool = ThreadPoolExecutor(
            max_workers=self.workers,
            thread_name_prefix="tap-refiner-fetch",
            initializer=self._start_worker,
        )
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(func, item))
                if len(pending) > self.workers:  # every thread busy while one result is consumed
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            self.stopping.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self._close_sessions()

    def _start_worker(self) -> None:
        session = requests.Session()
        with self._lock:
            self._sessions.append(session)
        _worker.session = session

    def _close_sessions(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
