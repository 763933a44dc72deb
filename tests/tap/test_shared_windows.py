"""SharedWindows: a window read once serves the run's other windowed stream, then is removed."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tap_refiner.shared_windows import SharedWindows

ITEMS = [{"uuid": "b", "data": {"q": 1.5, "t": "line\nbreak"}}, {"uuid": "a", "data": None}]


def reader(calls: list[str], name: str):
    def items():
        calls.append(name)
        yield from ITEMS

    return items


def test_a_window_reads_back_exactly_what_was_read_in_order():
    shared = SharedWindows()
    shared.start("responses", ["responses"])
    window = shared.read("w1", reader([], "responses"))
    assert window.count == 2
    assert list(window.items()) == ITEMS


def test_kept_for_a_stream_still_to_come_then_removed_once_it_wrote_it():
    shared = SharedWindows()
    calls: list[str] = []
    shared.start("responses", ["responses", "answers"])
    first = shared.read("w1", reader(calls, "responses"))
    shared.written(first)
    shared.finish()
    assert first.path.exists()  # answers has not started yet
    shared.start("answers", ["responses", "answers"])
    again = shared.read("w1", reader(calls, "answers"))
    assert calls == ["responses"]  # no second read
    assert list(again.items()) == ITEMS
    shared.written(again)
    assert not first.path.exists()


def test_nothing_kept_without_another_stream_and_unmatched_windows_dropped_at_the_end():
    shared = SharedWindows()
    shared.start("answers", ["answers"])
    alone = shared.read("w1", reader([], "answers"))
    shared.written(alone)
    assert not alone.path.exists()

    both = SharedWindows()
    both.start("responses", ["responses", "answers"])
    unmatched = both.read("other-bounds", reader([], "responses"))
    both.written(unmatched)
    both.finish()
    both.start("answers", ["responses", "answers"])
    both.finish()
    assert not unmatched.path.exists()


def test_a_failed_read_leaves_nothing_behind_and_is_read_again():
    shared = SharedWindows()
    shared.start("responses", ["responses", "answers"])

    def broken():
        yield ITEMS[0]
        raise ConnectionError

    with pytest.raises(ConnectionError):
        shared.read("w1", broken)
    calls: list[str] = []
    window = shared.read("w1", reader(calls, "responses"))
    assert calls == ["responses"]
    assert list(window.items()) == ITEMS


def test_the_oldest_response_is_guessed_once_per_query():
    shared = SharedWindows()
    guesses: list[str] = []
    moment = datetime(2026, 3, 11, tzinfo=timezone.utc)

    def guess():
        guesses.append("probe")
        return moment

    assert shared.oldest("q", guess) == moment
    assert shared.oldest("q", guess) == moment
    assert shared.oldest("other", lambda: None) is None
    assert guesses == ["probe"]
