"""Outgoing webhooks (§5): JSON POSTs delivered in order by one background thread.

The API handler only enqueues, so a slow or dead receiver never delays an API response.
Failed deliveries (connection error or non-2xx) are retried a few times with backoff.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

import requests

RETRY_DELAYS = (0.2, 0.5, 1.0)  # seconds before attempts 2, 3 and 4
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
TIMEOUT_SECONDS = 5.0
HTTP_OK_MIN, HTTP_OK_MAX = 200, 299


class WebhookDispatcher:
    """Queue + worker thread + delivery log (``GET /_emulator/webhooks``)."""

    def __init__(self) -> None:
        """The worker starts on the first delivery."""
        self.urls: list[str] = []
        self.secret: str | None = None
        self._queue: queue.Queue[tuple[int, dict[str, Any], bytes, str | None]] = queue.Queue()
        self._lock = threading.Lock()
        self._deliveries: list[dict[str, Any]] = []
        self._generation = 0
        self._thread: threading.Thread | None = None

    def send(self, event: str, payload: dict[str, Any]) -> None:
        """Schedule ``payload`` for every configured URL (no-op without URLs)."""
        if not self.urls:
            return
        body = json.dumps(payload, separators=(",", ":")).encode()
        with self._lock:
            for url in self.urls:
                record = {
                    "seq": len(self._deliveries) + 1,
                    "url": url,
                    "event": event,
                    "status": None,
                    "attempts": 0,
                    "delivered": False,
                }
                self._deliveries.append(record)
                self._queue.put((self._generation, record, body, self.secret))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="refiner-emulator-webhooks", daemon=True
                )
                self._thread.start()

    def deliveries(self) -> list[dict[str, Any]]:
        """A copy of the delivery log, oldest first."""
        with self._lock:
            return [dict(d) for d in self._deliveries]

    def reset(self) -> None:
        """Forget the log; deliveries still queued from before are dropped."""
        with self._lock:
            self._generation += 1
            self._deliveries = []

    def _run(self) -> None:
        with requests.Session() as session:
            while True:
                generation, record, body, secret = self._queue.get()
                self._deliver(session, generation, record, body, secret)

    def _deliver(
        self,
        session: requests.Session,
        generation: int,
        record: dict[str, Any],
        body: bytes,
        secret: str | None,
    ) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": "Refiner-Webhooks"}
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS), start=1):
            if generation != self._generation:
                return
            if delay:
                time.sleep(delay)
            status: int | None = None
            try:
                with session.post(
                    record["url"], data=body, headers=headers, timeout=TIMEOUT_SECONDS
                ) as reply:
                    status = reply.status_code
            except requests.RequestException:
                status = None
            with self._lock:
                record["attempts"] = attempt
                record["status"] = status
                if status is not None and HTTP_OK_MIN <= status <= HTTP_OK_MAX:
                    record["delivered"] = True
                    return
