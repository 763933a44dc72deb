"""Sliding 60-second windows per API key and per user identifier (§1.3).

Only admitted requests are recorded, so a rejected request never consumes quota. The
``Retry-After`` value is the whole number of seconds until the oldest counted request leaves
the window (at least 1), i.e. when a slot really frees.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

WINDOW_SECONDS = 60.0
PRUNE_EVERY = 10_000  # admitted requests between sweeps of idle windows
USER_FIELDS = ("id", "email", "userId", "uuid")


def user_identifiers(params: dict[str, Any]) -> list[str]:
    """Every user identifier a request carries; each one is limited on its own."""
    found = []
    for name in USER_FIELDS:
        value = params.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) != "":
            found.append(f"{name}:{value}")
    return found


class RateLimiter:
    """Per-key and per-user sliding windows; ``admit`` returns None or a Retry-After."""

    def __init__(self, per_key: int, per_user: int) -> None:
        """Limits are requests per rolling minute."""
        self.per_key = per_key
        self.per_user = per_user
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._admitted = 0

    def reset(self) -> None:
        """Forget every window."""
        self._windows.clear()
        self._admitted = 0

    def _window(self, bucket: tuple[str, str], now: float) -> deque[float]:
        window = self._windows.get(bucket)
        if window is None:
            window = deque()
            self._windows[bucket] = window
        cutoff = now - WINDOW_SECONDS
        while window and window[0] <= cutoff:
            window.popleft()
        return window

    def admit(self, api_key: str, params: dict[str, Any], now: float | None = None) -> int | None:
        """Record the request and return None, or return Retry-After seconds if over a limit."""
        moment = time.monotonic() if now is None else now
        buckets = [(("key", api_key), self.per_key)]
        buckets += [((api_key, ident), self.per_user) for ident in user_identifiers(params)]
        windows = []
        wait = 0.0
        for bucket, limit in buckets:
            window = self._window(bucket, moment)
            windows.append(window)
            if len(window) >= limit:
                # The request that frees a slot is the one ``limit`` places from the end.
                oldest = window[len(window) - limit]
                wait = max(wait, oldest + WINDOW_SECONDS - moment)
        if wait > 0:
            return max(1, math.ceil(wait))
        for window in windows:
            window.append(moment)
        self._admitted += 1
        if self._admitted % PRUNE_EVERY == 0:
            self._prune(moment)
        return None

    def _prune(self, now: float) -> None:
        """Drop windows of users not seen for a minute, so memory follows active users."""
        cutoff = now - WINDOW_SECONDS
        idle = [b for b, window in self._windows.items() if not window or window[-1] <= cutoff]
        for bucket in idle:
            del self._windows[bucket]
