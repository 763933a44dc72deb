"""SharedWindows: a window read once serves the run's other windowed stream, then is removed."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, cast

import pytest
import requests

from tap_refiner.client import RefinerStream
from tap_refiner.fetch_ahead import FetchAhead
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
    assert list(window.items()) == ITEMS
    assert list(window.items()) == ITEMS  # each reading starts at the window's first line
    shared.written(window)
    assert window.file.closed


def test_kept_for_a_stream_still_to_come_then_removed_once_it_wrote_it():
    shared = SharedWindows()
    calls: list[str] = []
    shared.start("responses", ["responses", "answers"])
    first = shared.read("w1", reader(calls, "responses"))
    second = shared.read("w2", lambda: iter([{"uuid": "c"}]))
    shared.written(first)
    shared.written(second)
    shared.finish()
    assert first.file.closed  # its own spool is gone: a copy is kept, answers has not started
    shared.start("answers", ["responses", "answers"])
    again = shared.read("w1", reader(calls, "answers"))
    assert calls == ["responses"]  # no second read
    assert list(again.items()) == ITEMS
    assert list(shared.read("w2", reader(calls, "answers")).items()) == [{"uuid": "c"}]
    shared.written(again)
    assert not again.file.closed  # the kept file still holds w2 until answers is done
    shared.finish()
    assert again.file.closed


def test_nothing_kept_without_another_stream_and_unmatched_windows_dropped_at_the_end():
    shared = SharedWindows()
    shared.start("answers", ["answers"])
    alone = shared.read("w1", reader([], "answers"))
    shared.written(alone)
    assert alone.file.closed

    both = SharedWindows()
    both.start("responses", ["responses", "answers"])
    both.written(both.read("other-bounds", reader([], "responses")))
    both.finish()
    both.start("answers", ["responses", "answers"])
    calls: list[str] = []
    unmatched = both.read("answers-bounds", reader(calls, "answers"))
    assert calls == ["answers"]  # other bounds: read from the API
    kept = both.read("other-bounds", reader(calls, "answers"))
    both.written(unmatched)
    both.finish()
    assert kept.file.closed


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
    shared.finish()  # the stream stopped before writing it: its spool goes too
    assert window.file.closed


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


def test_two_streams_asking_the_same_windows_write_them_in_turns_keeping_none():
    """The leader reads each window once; the follower writes it from the same spool right
    after, and it is closed then: nothing accumulates on disk (issue 18)."""
    shared = SharedWindows()
    keys = ["w0", "w1", "w2"]
    log: list[str] = []
    spools: list = []

    def stream(name: str, partners) -> None:
        shared.start(name, ["answers", "responses"])
        try:
            shared.pair(name, keys, partners)
            for index, key in enumerate(keys):
                window = shared.read(key, lambda k=key: iter([{"uuid": k}]), name)
                shared.take_turn(name, index)
                log.append(f"{name}:{next(window.items())['uuid']}")
                if name == "responses":  # every earlier window is gone from disk
                    assert all(s.closed for s in spools if s is not window.file)
                spools.append(window.file)
                shared.written(window, name)
                shared.end_turn(name, index)
        finally:
            shared.finish(name)

    follower = ("responses", lambda: list(keys), lambda: stream("responses", []))
    stream("answers", [follower])

    assert log == [f"{name}:{key}" for key in keys for name in ("answers", "responses")]
    assert all(s.closed for s in spools)
    assert shared.synced("responses")
    assert not shared.synced("answers")


BROKE = "the follower broke"


def test_a_follower_that_fails_stops_its_leader_with_its_error():
    shared = SharedWindows()

    def follow() -> None:
        shared.start("responses", ["answers", "responses"])
        shared.pair("responses", ["w0"], [])
        raise ConnectionError(BROKE)

    shared.start("answers", ["answers", "responses"])
    shared.pair("answers", ["w0"], [("responses", lambda: ["w0"], follow)])
    shared.take_turn("answers", 0)
    shared.written(shared.read("w0", lambda: iter(ITEMS), "answers"), "answers")
    shared.end_turn("answers", 0)
    with pytest.raises(ConnectionError, match=BROKE):
        shared.finish("answers")  # the leader got through: the follower's error is the run's


def test_a_leader_stopped_early_leaves_its_follower_to_sync_on_its_own():
    """E.g. the SDK's record limit (``--test``) ends the leader after one record: the
    follower is woken, and when the SDK reaches it, it reads its windows itself."""
    shared = SharedWindows()
    stopped: list[BaseException] = []

    def follow() -> None:
        shared.start("responses", ["answers", "responses"])
        shared.pair("responses", ["w0"], [])
        try:
            shared.read("w0", reader([], "responses"), "responses")
        except BaseException as exc:
            stopped.append(exc)
            raise

    shared.start("answers", ["answers", "responses"])
    shared.pair("answers", ["w0"], [("responses", lambda: ["w0"], follow)])
    shared.finish("answers")  # before writing its window

    assert len(stopped) == 1
    assert not shared.synced("responses")
    calls: list[str] = []
    window = shared.read("w0", reader(calls, "responses"), "responses")
    assert calls == ["responses"]  # read by itself now
    assert list(window.items()) == ITEMS
    shared.written(window, "responses")
    assert window.file.closed


def test_reading_ahead_pauses_while_the_spools_alive_exceed_the_byte_budget():
    """Windows read ahead of the one in turn wait once the spools alive hold more than the
    budget, so temporary disk is about one window plus the budget (issue 18), not one window
    per thread; every window is still read once and written in order. Readers pause between
    pages (as ``WindowedResponsesStream`` does: a paused reader holds no parsed page), and a
    reader ahead reserves a page, so eight readers starting pages at once do not overshoot."""
    item = {"uuid": "x" * 80}
    window_bytes = 50 * (len(msgspec_line(item)))
    budget = 2 * window_bytes
    shared = SharedWindows(read_ahead_bytes=budget)
    shared.start("responses", ["responses"])
    ahead = FetchAhead(8)
    peaks: list[int] = []
    turn = [0]

    def read(numbered: tuple[int, str]):
        index, key = numbered

        def items():
            for n in range(50):
                if n and n % PAGE == 0:  # before each further page request
                    shared.make_room(lambda: index > turn[0])
                peaks.append(shared.spooled_bytes())
                yield item

        return shared.read(key, items, "responses", early=lambda: index > turn[0])

    keys = [f"w{n}" for n in range(30)]
    written = []
    for index, window in enumerate(ahead.in_order(read, enumerate(keys))):
        written.append((window.key, sum(1 for _ in window.items())))
        peaks.append(shared.spooled_bytes())
        shared.written(window, "responses")
        turn[0] = index + 1
    shared.finish("responses")
    assert written == [(key, 50) for key in keys]
    # the budget and the window in turn: pages read ahead were reserved within the budget
    assert max(peaks) <= budget + window_bytes
    assert shared.spooled_bytes() == 0


PAGE = 10  # items a page in test_reading_ahead_pauses_while_the_spools_alive_exceed_the_byte_budget


def msgspec_line(item: dict) -> bytes:
    return json.dumps(item, separators=(",", ":")).encode() + b"\n"


def test_a_page_is_decoded_once_and_dropped_after_its_last_use():
    """The paginator reads a page last (``last_use``): the thread keeps no parsed page after
    it, so sixteen threads waiting for their next page, or paused, hold none (issue 18)."""
    response = requests.Response()
    response._content = json.dumps({"items": [{"uuid": "a"}]}).encode()  # noqa: SLF001 - no server
    decode = RefinerStream.decode
    first = decode(cast("Any", None), response)
    assert decode(cast("Any", None), response, last_use=True) is first  # decoded once
    again = decode(cast("Any", None), response)
    assert again == first
    assert again is not first  # not kept after its last use: decoded anew
