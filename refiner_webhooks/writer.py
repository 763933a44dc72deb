"""Group commit: one thread owns the store and commits whatever arrived meanwhile in one go.

SQLite allows one writer at a time and a durable commit costs an fsync, so committing each
webhook on its own caps the receiver at the disk's fsync rate and blocks the event loop.
Instead, request handlers queue their event and await a future; the writer thread takes
everything queued, inserts it in one transaction, commits (one fsync), and only then resolves
the futures. Every 200 still means "committed", and throughput grows with concurrency.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from refiner_webhooks.event import WebhookEvent

if TYPE_CHECKING:
    from refiner_webhooks.store import Stored
    from refiner_webhooks.stores import AnyEventStore

MAX_BATCH = 512

logger = logging.getLogger("refiner_webhooks")


@dataclass(frozen=True)
class _Check:
    """A health probe travelling through the same queue as events."""


_STOP = object()


class GroupCommitWriter:
    """Serialises every store access onto one thread and batches commits."""

    def __init__(self, store: AnyEventStore, *, max_batch: int = MAX_BATCH) -> None:
        """Remember the store; call ``start()`` before writing."""
        self._store = store
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="webhook-writer", daemon=True)

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    async def write(self, event: WebhookEvent) -> Stored:
        """Queue ``event``; return once it (or an earlier copy of it) is committed."""
        future: Future[Stored] = Future()
        self._queue.put((event, future))
        return await asyncio.wrap_future(future)

    async def check(self) -> dict[str, Any]:
        """Run the store's read/write probe on the writer thread."""
        future: Future[dict[str, Any]] = Future()
        self._queue.put((_Check(), future))
        return await asyncio.wrap_future(future)

    def stop(self) -> None:
        """Commit what is queued, stop the thread and close the store."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._store.close()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            # Only this thread takes from the queue, so "not empty" means get() won't block.
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get())
            if _STOP in batch:
                # Late arrivals (none expected: the server drains requests first) still get
                # committed rather than left waiting forever.
                stopping = True
                batch.remove(_STOP)
                while not self._queue.empty():
                    batch.append(self._queue.get())
            if batch:
                self._process_safely(batch)

    def _process_safely(self, batch: list[tuple[Any, Future[Any]]]) -> None:
        # The thread must survive anything: if it died, every later request would wait forever.
        try:
            self._process(batch)
        except Exception as exc:
            logger.exception("Webhook writer failed on a batch of %d", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)

    def _process(self, batch: list[tuple[Any, Future[Any]]]) -> None:
        # Once marked running, a future can no longer be cancelled, so set_result is safe;
        # an event whose request was cancelled is still stored (it arrived whole).
        live = [
            (item, future if future.set_running_or_notify_cancel() else None)
            for item, future in batch
        ]
        events = [(item, future) for item, future in live if isinstance(item, WebhookEvent)]
        if events:
            self._commit(events)
        for item, future in live:
            if isinstance(item, _Check) and future is not None:
                try:
                    future.set_result(self._store.check())
                except Exception as exc:  # noqa: BLE001 - reported to /healthz as a 503
                    future.set_exception(exc)

    def _commit(self, events: list[tuple[WebhookEvent, Future[Any] | None]]) -> None:
        try:
            results = self._store.insert_many([event for event, _ in events])
        except Exception as exc:
            logger.exception("Could not commit %d webhook event(s)", len(events))
            for _, future in events:
                if future is not None:
                    future.set_exception(exc)
            return
        for (_, future), result in zip(events, results, strict=True):
            if future is not None:
                future.set_result(result)
