"""How many calls the sender keeps in flight: as many as the API's distance needs, up to a cap.

Refiner allows one call per ``interval`` per key (4000/min). A worker waits one round trip per
call, so reaching the limit takes ``rate x latency`` workers (Little's law): 5 at 80 ms, 20 at
300 ms, 65 at 1000 ms. A fixed pool either wastes threads near the API or starves far from it
(8 workers reached 0.39 of the limit at 300 ms). The sender starts a few workers and adds more as
the observed latency asks, never above ``max_concurrency``; pacing, not the pool, keeps the rate
under the limit, so extra workers only wait for their slot.

Latency is what ``requests`` measured for the answer (``Response.elapsed``): it excludes time
spent waiting for a pacing slot, which would otherwise make a busy pacer look like a far API.
"""

from __future__ import annotations

import math
import threading

START_WORKERS = 4
#: Workers beyond the Little's-law figure: jitter in latency and in slot times.
SPARE_WORKERS = 2
HEADROOM = 1.25
SMOOTHING = 0.2  # weight of each new latency in the moving average


class Concurrency:
    """The number of workers wanted for ``calls_per_second`` at the latency seen so far."""

    def __init__(self, *, cap: int, calls_per_second: float) -> None:
        """``cap``: the ``max_concurrency`` setting; ``calls_per_second``: the key's pace."""
        self.cap = max(cap, 1)
        self.calls_per_second = calls_per_second
        self.latency: float | None = None
        self._lock = threading.Lock()

    @property
    def start(self) -> int:
        """Workers to start with, before any latency is known."""
        return min(START_WORKERS, self.cap)

    def observe(self, seconds: float) -> int:
        """Fold one answer's latency in; return the workers now wanted."""
        with self._lock:
            if self.latency is None:
                self.latency = seconds
            else:
                self.latency += SMOOTHING * (seconds - self.latency)
            return self.wanted(self.latency)

    def wanted(self, latency: float) -> int:
        """Little's law with headroom, between the starting pool and the cap."""
        needed = math.ceil(self.calls_per_second * latency * HEADROOM) + SPARE_WORKERS
        return max(self.start, min(needed, self.cap))
