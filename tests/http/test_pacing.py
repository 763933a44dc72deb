"""Pacing never lets more than the limit through in any 60-second sliding window."""

from __future__ import annotations

from bisect import bisect_left

import pytest

from refiner_http import KeyedPacer, Pacer
from refiner_http.policy import HttpPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def max_in_window(times: list[float], window: float = 60.0) -> int:
    """Largest number of calls inside any half-open window [t, t+window)."""
    ordered = sorted(times)
    return max(bisect_left(ordered, t + window) - i for i, t in enumerate(ordered))


@pytest.mark.parametrize("limit", [100, 1000, 4000])
def test_pacer_sliding_window_never_exceeds_limit(limit):
    clock = FakeClock()
    pacer = Pacer(limit, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(limit * 3):
        pacer.acquire()
        times.append(clock.now)
    assert max_in_window(times) <= limit
    # ... while still using most of the budget (at most the 2% headroom plus the burst)
    assert max_in_window(times) >= limit * 0.95


def test_pacer_bursty_caller_with_idle_gaps():
    clock = FakeClock()
    pacer = Pacer(120, clock=clock, sleep=clock.sleep)
    times = []
    for round_ in range(50):
        for _ in range(30):
            pacer.acquire()
            times.append(clock.now)
        clock.now += 7.3 * (round_ % 3)  # caller idles now and then
    assert max_in_window(times) <= 120


def test_pacer_hold_pushes_next_slot():
    clock = FakeClock()
    pacer = Pacer(4000, clock=clock, sleep=clock.sleep)
    pacer.acquire()
    pacer.hold(7.0)
    start = clock.now
    pacer.acquire()
    assert clock.now - start >= 7.0


def test_keyed_pacer_limits_each_user_and_forgets_idle_keys():
    clock = FakeClock()
    pacer = KeyedPacer(100, clock=clock, sleep=clock.sleep)
    per_user: dict[str, list[float]] = {"a": [], "b": []}
    for i in range(600):
        key = "a" if i % 3 else "b"
        pacer.acquire(key)
        per_user[key].append(clock.now)
    assert all(max_in_window(times) <= 100 for times in per_user.values())
    clock.now += 500
    pacer.acquire("c")
    assert len(pacer) == 1


def test_policy_pace_uses_both_pacers():
    clock = FakeClock()
    policy = HttpPolicy(
        max_requests_per_minute=600,
        max_requests_per_user_per_minute=60,
        clock=clock,
        sleep=clock.sleep,
    )
    times = []
    for _ in range(180):
        policy.pace("user-1")
        times.append(clock.now)
    assert max_in_window(times) <= 60


def test_pacer_rejects_non_positive_rates():
    with pytest.raises(ValueError, match="per_minute"):
        Pacer(0)
    with pytest.raises(ValueError, match="per_minute"):
        KeyedPacer(-1)
