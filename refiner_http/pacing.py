"""Client-side pacing so we use Refiner's rate limits to the full and never exceed them.

Refiner allows 4000 requests per minute per key and 100 per minute per user id, and answers 429
beyond that. We never rely on 429s: requests are spaced evenly (a GCRA, i.e. a token bucket
with a small burst) at slightly under the limit, so any 60-second window, sliding or fixed,
holds no more than the limit even with network jitter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]
Sleep = Callable[[float], None]

MINUTE = 60.0
DEFAULT_HEADROOM = 0.02  # pace 2% under the limit so jitter in arrival times never tips it over
DEFAULT_BURST = 4


def _positive(per_minute: float) -> float:
    if per_minute <= 0:
        msg = f"per_minute must be positive, got {per_minute}"
        raise ValueError(msg)
    return per_minute


def patchable_sleep(seconds: float) -> None:
    """``time.sleep`` looked up at call time, so patching ``time.sleep`` in tests reaches it."""
    time.sleep(seconds)


class Pacer:
    """Spaces calls evenly at ``per_minute`` (less headroom); thread-safe.

    ``reserve()`` books the next slot and returns how long to wait for it; ``acquire()`` books
    and sleeps. ``hold(seconds)`` pushes every future slot back, used when the API says 429.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int = DEFAULT_BURST,
        headroom: float = DEFAULT_HEADROOM,
        clock: Clock = time.monotonic,
        sleep: Sleep = patchable_sleep,
    ) -> None:
        """Validate the rate; burst is how many calls may go back to back after idling."""
        _positive(per_minute)
        # The burst is taken out of the budget so that burst + steady rate <= limit per minute.
        budget = per_minute * (1.0 - headroom) - max(burst - 1, 0)
        self.interval = MINUTE / max(budget, 1.0)
        self._tolerance = self.interval * max(burst - 1, 0)
        self._tat = 0.0  # theoretical arrival time of the next call
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def reserve(self, not_before: float | None = None) -> float:
        """Book the next free slot at or after ``not_before``; return seconds to wait for it."""
        with self._lock:
            now = self._clock()
            start = now if not_before is None else max(now, not_before)
            slot = max(start, self._tat - self._tolerance)
            self._tat = max(self._tat, slot) + self.interval
            return slot - now

    def acquire(self) -> float:
        """Wait for the next slot; return how long we waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def hold(self, seconds: float) -> None:
        """Push every future slot at least ``seconds`` from now (after a 429)."""
        with self._lock:
            # + tolerance: the burst allowance must not let a call in before ``seconds``.
            self._tat = max(self._tat, self._clock() + seconds + self._tolerance)


class KeyedPacer:
    """One evenly spaced schedule per key (Refiner's per-user-id limit); thread-safe.

    Keys idle for more than a minute are forgotten, so memory stays bounded by the number of
    users active within the last minute.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        headroom: float = DEFAULT_HEADROOM,
        clock: Clock = time.monotonic,
        sleep: Sleep = patchable_sleep,
    ) -> None:
        """Per-key limits are small (100/min), so no burst: each key is spaced evenly."""
        self.interval = MINUTE / (_positive(per_minute) * (1.0 - headroom))
        self._tat: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._next_sweep = 0.0

    def reserve(self, key: str) -> float:
        """Book ``key``'s next slot; return seconds to wait for it."""
        with self._lock:
            now = self._clock()
            if now >= self._next_sweep:
                self._sweep(now)
            slot = max(now, self._tat.get(key, 0.0))
            self._tat[key] = slot + self.interval
            return slot - now

    def wait_time(self, key: str) -> float:
        """Seconds until ``key``'s next slot is free, without booking it.

        Lets a scheduler park a user's call instead of blocking a worker thread in ``acquire``.
        """
        with self._lock:
            return max(self._tat.get(key, 0.0) - self._clock(), 0.0)

    def acquire(self, key: str) -> float:
        """Wait for ``key``'s next slot; return how long we waited."""
        wait = self.reserve(key)
        if wait > 0:
            self._sleep(wait)
        return wait

    def hold(self, key: str, seconds: float) -> None:
        """Push ``key``'s next slot at least ``seconds`` from now."""
        with self._lock:
            self._tat[key] = max(self._tat.get(key, 0.0), self._clock() + seconds)

    def __len__(self) -> int:
        """How many keys are currently tracked."""
        return len(self._tat)

    def _sweep(self, now: float) -> None:
        stale = [k for k, tat in self._tat.items() if tat < now - MINUTE]
        for key in stale:
            del self._tat[key]
        self._next_sweep = now + MINUTE
