"""Client-side pacing so we use Refiner's rate limits to the full and never exceed them.

Refiner allows 4000 requests per minute per key and 100 per minute per user id, and answers 429
beyond that. We never rely on 429s: requests are spaced evenly (a GCRA, i.e. a token bucket
with a small burst) at slightly under the limit, so any 60-second window, sliding or fixed,
holds no more than the limit even with network jitter.

The pacers hold only the arithmetic; where the schedules live (this process, or a file every
process using the key shares) is ``refiner_http.schedule``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from refiner_http.schedule import LocalSchedule, Schedule, user_schedule_name

Clock = Callable[[], float]
Sleep = Callable[[float], None]

MINUTE = 60.0
DEFAULT_HEADROOM = 0.02  # pace 2% under the limit so jitter in arrival times never tips it over
DEFAULT_BURST = 4
KEY_SCHEDULE = "key"


def _positive(per_minute: float) -> float:
    if per_minute <= 0:
        msg = f"per_minute must be positive, got {per_minute}"
        raise ValueError(msg)
    return per_minute


@dataclass(frozen=True)
class Booking:
    """One GCRA booking as data (a schedule step), so a database can run it in SQL too.

    The slot is the first at or after ``now + delay`` that the schedule's TAT allows, at most
    ``tolerance`` early (the burst); the step returns the new TAT and the wait from ``now``.
    Only ``delay``, ``interval`` and ``tolerance`` are relative, so a schedule on another clock
    (``refiner_http.pg_schedule``: the database's) can book it against its own ``now``.
    """

    now: float
    delay: float
    interval: float
    tolerance: float = 0.0

    def __call__(self, tat: float) -> tuple[float, float]:
        """The new TAT and the seconds to wait for the slot."""
        slot = max(self.now + self.delay, tat - self.tolerance)
        return max(tat, slot) + self.interval, slot - self.now


@dataclass(frozen=True)
class Hold:
    """Push a schedule's next slot ``seconds`` past ``now`` (after a 429); a schedule step."""

    now: float
    seconds: float

    def __call__(self, tat: float) -> tuple[float, None]:
        """The new TAT (never earlier than the one booked)."""
        return max(tat, self.now + self.seconds), None


def patchable_sleep(seconds: float) -> None:
    """``time.sleep`` looked up at call time, so patching ``time.sleep`` in tests reaches it."""
    time.sleep(seconds)


class Pacer:
    """Spaces calls evenly at ``per_minute`` (less headroom); thread-safe.

    ``reserve()`` books the next slot and returns how long to wait for it; ``acquire()`` books
    and sleeps. ``hold(seconds)`` pushes every future slot back, used when the API says 429.
    With a shared ``schedule``, every process using it books from the same timeline.
    """

    def __init__(  # noqa: PLR0913 - each knob is injectable for tests
        self,
        per_minute: float,
        *,
        burst: int = DEFAULT_BURST,
        headroom: float = DEFAULT_HEADROOM,
        clock: Clock = time.monotonic,
        sleep: Sleep = patchable_sleep,
        schedule: Schedule | None = None,
    ) -> None:
        """Validate the rate; burst is how many calls may go back to back after idling."""
        _positive(per_minute)
        # The burst is taken out of the budget so that burst + steady rate <= limit per minute.
        budget = per_minute * (1.0 - headroom) - max(burst - 1, 0)
        self.interval = MINUTE / max(budget, 1.0)
        self._tolerance = self.interval * max(burst - 1, 0)
        self._schedule = schedule if schedule is not None else LocalSchedule()
        self._clock = clock
        self._sleep = sleep

    def reserve(self, not_before: float | None = None) -> float:
        """Book the next free slot at or after ``not_before``; return seconds to wait for it."""
        now = self._clock()
        delay = 0.0 if not_before is None else max(not_before - now, 0.0)
        booking = Booking(now, delay, self.interval, self._tolerance)
        return self._schedule.update(KEY_SCHEDULE, booking, now)

    def acquire(self) -> float:
        """Wait for the next slot; return how long we waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def hold(self, seconds: float) -> None:
        """Push every future slot at least ``seconds`` from now (after a 429)."""
        now = self._clock()
        # + tolerance: the burst allowance must not let a call in before ``seconds``.
        self._schedule.update(KEY_SCHEDULE, Hold(now, seconds + self._tolerance), now)


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
        schedule: Schedule | None = None,
    ) -> None:
        """Per-key limits are small (100/min), so no burst: each key is spaced evenly."""
        self.interval = MINUTE / (_positive(per_minute) * (1.0 - headroom))
        self._schedule = schedule if schedule is not None else LocalSchedule()
        self._clock = clock
        self._sleep = sleep
        self._next_sweep = 0.0

    def reserve(self, key: str) -> float:
        """Book ``key``'s next slot; return seconds to wait for it."""
        now = self._clock()
        if now >= self._next_sweep:
            self._next_sweep = now + MINUTE
            self._schedule.forget_idle(now)
        return self._schedule.update(user_schedule_name(key), Booking(now, 0.0, self.interval), now)

    def wait_time(self, key: str) -> float:
        """Seconds until ``key``'s next slot is free, without booking it.

        Lets a scheduler park a user's call instead of blocking a worker thread in ``acquire``.
        """
        return max(self._schedule.peek(user_schedule_name(key)) - self._clock(), 0.0)

    def acquire(self, key: str) -> float:
        """Wait for ``key``'s next slot; return how long we waited."""
        wait = self.reserve(key)
        if wait > 0:
            self._sleep(wait)
        return wait

    def hold(self, key: str, seconds: float) -> None:
        """Push ``key``'s next slot at least ``seconds`` from now."""
        now = self._clock()
        self._schedule.update(user_schedule_name(key), Hold(now, seconds), now)

    def __len__(self) -> int:
        """How many schedules are currently kept (users active within the last minute)."""
        return len(self._schedule)
