"""AckTracker holds: a mirror keeps STATE back without counting as a row to wait for."""

from __future__ import annotations

import threading

from target_refiner.state import AckTracker


def test_a_hold_keeps_later_states_back_but_is_not_an_outstanding_row():
    emitted: list[dict] = []
    tracker = AckTracker(emitted.append)
    tracker.add_state({"n": 0})
    hold = tracker.open(hold=True)
    row = tracker.open()
    tracker.add_state({"n": 1})
    assert tracker.outstanding == 1
    tracker.close(row)
    assert tracker.outstanding == 0
    assert tracker.wait_below(1, threading.Event(), timeout=0)  # a drain does not wait for it
    assert emitted == [{"n": 0}]  # ... but the STATE after the hold waits
    tracker.add_state({"n": 2})
    tracker.close(hold)
    assert emitted == [{"n": 0}, {"n": 2}]
    assert tracker.outstanding == 0
