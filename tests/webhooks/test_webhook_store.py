import sqlite3
from contextlib import closing

import pytest

from refiner_webhooks.event import WebhookEvent
from refiner_webhooks.store import EventStore, connect_read_only, read_events
from refiner_webhooks.testing import sample_event as survey_event


@pytest.fixture
def store(store_path):
    s = EventStore(store_path)
    yield s
    s.close()


def events(*numbers):
    return [WebhookEvent.from_payload(survey_event(n)) for n in numbers]


def test_insert_assigns_increasing_seq_and_dedupes(store):
    first = store.insert_many(events(1, 2))
    second = store.insert_many(events(2, 3, 3))
    assert [(s.seq, s.duplicate) for s in first] == [(1, False), (2, False)]
    assert [(s.seq, s.duplicate) for s in second] == [(2, True), (3, False), (3, True)]


def test_durability_pragmas(store, store_path):
    with closing(sqlite3.connect(store_path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.pragma("synchronous") == 2  # FULL


def test_read_events_in_seq_order_after_a_bookmark(store, store_path, monkeypatch):
    monkeypatch.setattr("refiner_webhooks.store.READ_BATCH", 2)  # cross batch boundaries
    store.insert_many(events(1, 2, 3, 4, 5))
    rows = list(read_events(store_path, after_seq=1))
    assert [r["seq"] for r in rows] == [2, 3, 4, 5]
    assert rows[0]["payload"] == survey_event(2)
    assert rows[0]["segment_uuids"] == ["seg-all"]
    assert rows[0]["received_at"].endswith("Z")


def test_reader_cannot_write(store, store_path):
    store.insert_many(events(1))
    with closing(connect_read_only(store_path)) as db, pytest.raises(sqlite3.OperationalError):
        db.execute("DELETE FROM events")


def test_reader_reports_a_missing_store(tmp_path):
    with pytest.raises(FileNotFoundError, match="No webhook store"):
        list(read_events(tmp_path / "nope.sqlite"))


def test_health_check_counts(store):
    store.insert_many(events(1, 2))
    assert store.check() == {"events": 2, "last_seq": 2}


def test_seq_is_never_reused(store, store_path):
    store.insert_many(events(1, 2))
    with closing(sqlite3.connect(store_path)) as db, db:
        db.execute("DELETE FROM events WHERE seq = 2")
    assert store.insert_many(events(3))[0].seq == 3
