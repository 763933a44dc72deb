"""A bookmark from another store is not trusted: a recreated store restarts ``seq`` at 1, so an
old bookmark would skip every new event. Real receiver, real tap process."""

from __future__ import annotations

import json
import sqlite3

import requests

from refiner_webhooks.testing import ReceiverProcess, sample_event
from tests.reliability.tap_processes import records_of, sync

TOKEN = "reliability-token-1234"  # noqa: S105 - a test token


def deliver(store, numbers) -> None:
    """Post events to a real receiver on ``store``; each answered 200 is stored."""
    with ReceiverProcess(store, secret=TOKEN) as receiver:
        for n in numbers:
            reply = requests.post(
                receiver.url + "webhooks",
                json=sample_event(n),
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            )
            assert reply.status_code == 200, reply.text


def tap(store, tmp_path, state=None, name="tap"):
    config = {
        "api_key": "unused-key",
        "api_url": "http://127.0.0.1:9/v1",
        "webhook_store": str(store),
    }
    result = sync(config, ["webhook_events"], tmp_path / name, state=state)
    assert result.returncode == 0, result.stderr[-2000:]
    states = [json.loads(line)["value"] for line in result.stdout.splitlines() if '"STATE"' in line]
    events = records_of(result.stdout).get("webhook_events", [])
    return [e["payload"]["uuid"] for e in events], states[-1], result.stderr


def test_a_recreated_store_is_read_from_the_start(tmp_path):
    store = tmp_path / "events.sqlite"
    deliver(store, [1, 2, 3])
    first, state, _ = tap(store, tmp_path, name="first")
    assert len(first) == 3
    bookmark = state["bookmarks"]["webhook_events"]
    assert bookmark["replication_key_value"] == 3
    assert bookmark["store_id"]

    for leftover in tmp_path.glob("events.sqlite*"):
        leftover.unlink()  # the store is recreated, e.g. on a new volume
    deliver(store, [4, 5])
    second, state2, log = tap(store, tmp_path, state=state, name="second")
    assert second == [sample_event(n)["uuid"] for n in (4, 5)]  # not skipped as "seq <= 3"
    assert f"taken from store {bookmark['store_id']}" in log
    assert state2["bookmarks"]["webhook_events"]["store_id"] != bookmark["store_id"]

    third, _, _ = tap(store, tmp_path, state=state2, name="third")
    assert third == []  # the new bookmark is trusted


def test_a_bookmark_without_store_id_is_not_trusted(tmp_path):
    store = tmp_path / "events.sqlite"
    deliver(store, [1, 2])
    old_bookmark = {
        "bookmarks": {"webhook_events": {"replication_key": "seq", "replication_key_value": 2}}
    }
    events, _, log = tap(store, tmp_path, state=old_bookmark)
    assert len(events) == 2
    assert "(no id)" in log


def test_a_store_from_before_ids_gets_one_when_the_receiver_opens_it(tmp_path):
    store = tmp_path / "events.sqlite"
    deliver(store, [1])
    with sqlite3.connect(store) as db:
        db.execute("DROP TABLE meta")  # as written by the previous version
    events, state, _ = tap(store, tmp_path, name="old")
    assert len(events) == 1
    assert "store_id" not in state["bookmarks"]["webhook_events"]
    deliver(store, [2])  # the receiver adds an id; the id-less bookmark is not trusted
    again, state2, _ = tap(store, tmp_path, state=state, name="again")
    assert len(again) == 2
    assert state2["bookmarks"]["webhook_events"]["store_id"]
