"""FetchAhead: results in the items' order, bounded, one session per thread, stops on failure.

No timing: order and bounds are forced and observed with events and counters.
"""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError

import pytest

from tap_refiner.fetch_ahead import FetchAhead, worker_session


def test_results_come_in_the_items_order_whatever_finishes_first():
    last_of_first_batch = threading.Event()

    def work(n: int) -> int:
        if n == 0:  # the first item finishes only after the fourth one has
            assert last_of_first_batch.wait(10)
        if n == 3:  # the fourth item
            last_of_first_batch.set()
        return n * n

    assert list(FetchAhead(4).in_order(work, range(20))) == [n * n for n in range(20)]


def test_never_more_than_workers_items_ahead_of_the_consumer():
    lock = threading.Lock()
    started = 0
    ahead: list[int] = []

    def work(n: int) -> int:
        nonlocal started
        with lock:
            started += 1
        return n

    for consumed, _ in enumerate(FetchAhead(3).in_order(work, range(50)), start=1):
        with lock:
            ahead.append(started - consumed)
    assert max(ahead) <= 3  # started but not yet consumed: one per worker at most


def test_each_worker_thread_has_its_own_session_and_the_caller_none():
    sessions: dict[int, int] = {}
    barrier = threading.Barrier(4)

    def work(_: int) -> None:
        barrier.wait(10)  # four items at once: four threads
        session = worker_session()
        assert session is not None
        sessions[threading.get_ident()] = id(session)

    list(FetchAhead(4).in_order(work, range(4)))
    assert len(sessions) == 4
    assert len(set(sessions.values())) == 4  # no session shared by two threads
    assert worker_session() is None


def test_one_worker_runs_every_item_in_the_calling_thread():
    threads = list(FetchAhead(1).in_order(lambda _: threading.get_ident(), range(5)))
    assert set(threads) == {threading.get_ident()}


def test_a_failed_item_stops_the_rest_and_raises_in_order():
    ran: list[int] = []
    lock = threading.Lock()
    ahead = FetchAhead(2)
    long_item_stopped = threading.Event()

    def work(n: int) -> int:
        with lock:
            ran.append(n)
        if n == 1:
            raise ValueError(n)
        if n == 2:  # a long item (a window of many pages) still running
            while True:
                try:
                    ahead.check()
                except CancelledError:
                    long_item_stopped.set()
                    raise
                ahead.stopping.wait(0.01)
        return n

    results = ahead.in_order(work, range(100))
    assert next(results) == 0
    with pytest.raises(ValueError, match="1"):
        next(results)
    assert long_item_stopped.is_set()  # told to stop, and awaited before the error came out
    assert len(ran) < 10  # queued items were cancelled, not run
