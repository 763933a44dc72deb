"""The webhook store in PostgreSQL: receivers on any machines, the tap reading from another.

Real receiver processes on the suite's PostgreSQL, real tap processes, deliveries over HTTP.
"""

from __future__ import annotations

import itertools
import json
import threading
import time

import pytest
import requests

from refiner_stores.postgres import connect, lock_for_transaction
from refiner_webhooks.event import WebhookEvent
from refiner_webhooks.pg_store import WRITE_LOCK, PostgresEventStore
from refiner_webhooks.testing import ReceiverProcess, sample_event
from tests.reliability.tap_processes import records_of, sync

TOKEN = "warehouse-webhook-token-77"  # noqa: S105 - a test token


def tap(url, tmp_path, state, name):
    config = {"api_key": "unused-key", "api_url": "http://127.0.0.1:9/v1", "webhook_store": url}
    result = sync(config, ["webhook_events"], tmp_path / name, state=state)
    assert result.returncode == 0, result.stderr[-3000:]
    states = [json.loads(line)["value"] for line in result.stdout.splitlines() if '"STATE"' in line]
    return records_of(result.stdout).get("webhook_events", []), states[-1], result.stderr


class Deliveries:
    """Senders posting new webhooks (every fifth twice) to receivers until stopped."""

    def __init__(self, urls: list[str]) -> None:
        self.accepted: set[str] = set()
        self.failures: list[str] = []
        self._numbers = itertools.count(1)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._deliver, args=(url,)) for url in urls]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _deliver(self, url: str) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                n = next(self._numbers)
                body = sample_event(n)
                for _ in range(1 + (n % 5 == 0)):
                    reply = session.post(
                        url + "webhooks",
                        json=body,
                        headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=10,
                    )
                    if reply.status_code == 200:
                        self.accepted.add(body["uuid"])
                    else:
                        self.failures.append(reply.text)


def test_receivers_on_postgres_and_the_tap_emit_every_webhook_once(warehouse, tmp_path):
    logs = [tmp_path / "receiver-a.log", tmp_path / "receiver-b.log"]
    emitted: list[dict] = []
    state = None
    with (
        ReceiverProcess(warehouse.url, secret=TOKEN, log_path=logs[0]) as first,
        ReceiverProcess(warehouse.url, secret=TOKEN, log_path=logs[1]) as second,
    ):
        # Two receivers (two machines behind one address), two senders each.
        with Deliveries([first.url, second.url, first.url, second.url]) as deliveries:
            for run in range(3):  # incremental runs while deliveries continue
                time.sleep(0.5)
                records, state, _ = tap(warehouse.url, tmp_path, state, f"during-{run}")
                emitted += records
        health = requests.get(first.url + "healthz", timeout=10).json()
    records, state, log = tap(warehouse.url, tmp_path, state, "after")
    emitted += records

    assert deliveries.failures == []
    uuids = [r["payload"]["uuid"] for r in emitted]
    assert len(uuids) == len(set(uuids)), "a webhook was emitted twice"
    assert set(uuids) == deliveries.accepted
    assert len(deliveries.accepted) > 20
    seqs = [r["seq"] for r in emitted]
    assert seqs == sorted(seqs)
    assert health["status"] == "ok"
    bookmark = state["bookmarks"]["webhook_events"]
    assert bookmark["store_id"] == warehouse.scalar(
        "SELECT value FROM refiner_webhook_meta WHERE key = 'store_id'"
    )
    assert bookmark["replication_key_value"] == max(seqs)
    # The password is in no log; the receivers say where they store, masked.
    for path in logs:
        text = path.read_text()
        assert "Storing events in postgresql://postgres:***@" in text
        assert warehouse.server.password not in text
    assert warehouse.server.password not in log


def test_writers_commit_one_at_a_time(warehouse):
    """A writer draws its seq only after an earlier writer's COMMIT (see pg_store.py).

    Another writer (a second receiver) is simulated mid-transaction by holding the write lock:
    the store must wait for it rather than commit a seq that a reader could see before the
    other writer's smaller one.
    """
    store = PostgresEventStore(warehouse.url)
    other = connect(warehouse.url, setting="test")
    result: list = []
    try:
        transaction = other.transaction()
        transaction.__enter__()
        lock_for_transaction(other.cursor(), WRITE_LOCK)
        event = WebhookEvent.from_payload(sample_event(1))
        writer = threading.Thread(target=lambda: result.extend(store.insert_many([event])))
        writer.start()
        writer.join(timeout=1.0)
        assert writer.is_alive(), "the write did not wait for the other writer's commit"
        assert warehouse.scalar("SELECT count(*) FROM refiner_webhook_events") == 0
        transaction.__exit__(None, None, None)  # the other writer commits
        writer.join(timeout=10)
        assert not writer.is_alive()
        assert [stored.seq for stored in result] == [1]
    finally:
        other.close()
        store.close()


def test_duplicates_keep_their_first_seq_and_the_store_its_identity(warehouse):
    events = [WebhookEvent.from_payload(sample_event(n)) for n in (1, 2, 1)]
    first = PostgresEventStore(warehouse.url)
    try:
        stored = first.insert_many(events)
        again = first.insert_many(events[:1])
    finally:
        first.close()
    assert [(s.seq, s.duplicate) for s in stored] == [(1, False), (2, False), (1, True)]
    assert [(s.seq, s.duplicate) for s in again] == [(1, True)]
    reopened = PostgresEventStore(warehouse.url)
    reopened.close()
    assert reopened.store_id == first.store_id
    assert warehouse.scalar("SELECT count(*) FROM refiner_webhook_events") == 2


def test_the_tap_names_a_database_without_a_store(warehouse, tmp_path):
    config = {
        "api_key": "unused-key",
        "api_url": "http://127.0.0.1:9/v1",
        "webhook_store": warehouse.url,
    }
    result = sync(config, ["webhook_events"], tmp_path / "tap")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "no webhook store there yet" in result.stderr
    assert "postgresql://postgres:***@" in result.stderr
    assert warehouse.server.password not in result.stderr


@pytest.fixture
def store_with_events(warehouse):
    store = PostgresEventStore(warehouse.url)
    store.insert_many([WebhookEvent.from_payload(sample_event(n)) for n in range(1, 4)])
    store.close()
    return warehouse.url


def test_a_bookmark_from_another_store_is_read_from_the_start(store_with_events, tmp_path):
    records, state, _ = tap(store_with_events, tmp_path, None, "first")
    assert len(records) == 3
    other = {"bookmarks": {"webhook_events": {**state["bookmarks"]["webhook_events"]}}}
    other["bookmarks"]["webhook_events"]["store_id"] = "another-store"
    again, _, log = tap(store_with_events, tmp_path, other, "second")
    assert len(again) == 3
    assert "taken from store another-store" in log
    none, _, _ = tap(store_with_events, tmp_path, state, "third")
    assert none == []
