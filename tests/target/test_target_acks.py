"""Ordered acknowledgement: a STATE waits for every row before it, then goes out at once."""

from __future__ import annotations

from refiner_http import KeyedPacer
from target_refiner.state import AckTracker


def test_state_released_only_when_every_earlier_row_is_acknowledged():
    emitted: list[dict] = []
    tracker = AckTracker(emitted.append)
    a, b = tracker.open(), tracker.open()
    tracker.add_state({"s": 1})
    c = tracker.open()
    tracker.add_state({"s": 2})
    tracker.close(b)
    assert emitted == []  # row a is still in flight
    tracker.close(c)
    assert emitted == []
    tracker.close(a)
    assert emitted == [{"s": 2}]  # both states ready: only the newest is needed
    tracker.add_state({"s": 3})  # nothing in flight: immediately
    assert emitted == [{"s": 2}, {"s": 3}]
    assert tracker.outstanding == 0


def test_later_rows_do_not_hold_back_an_earlier_state():
    emitted: list[dict] = []
    tracker = AckTracker(emitted.append)
    a = tracker.open()
    tracker.add_state({"s": 1})
    tracker.open()  # a row after the state, still in flight
    tracker.close(a)
    assert emitted == [{"s": 1}]


def test_keyed_pacer_wait_time_peeks_without_booking():
    now = [100.0]
    pacer = KeyedPacer(60, headroom=0.0, clock=lambda: now[0], sleep=lambda _s: None)
    assert pacer.wait_time("u") == 0.0
    assert pacer.reserve("u") == 0.0
    assert pacer.wait_time("u") == 1.0
    assert pacer.wait_time("u") == 1.0  # peeking twice books nothing
    now[0] += 0.25
    assert pacer.wait_time("u") == 0.75
    assert pacer.wait_time("other") == 0.0
