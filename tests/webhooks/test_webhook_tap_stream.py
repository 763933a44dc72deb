import json
import logging

import pytest
from singer_sdk import Tap

from refiner_http.stops import RunStoppedError
from refiner_webhooks.event import WebhookEvent
from refiner_webhooks.store import EventStore
from refiner_webhooks.testing import sample_event
from tap_refiner.webhook_events import WEBHOOK_SETTINGS, WebhookEventsStream


class MiniTap(Tap):
    """Just the webhook stream and its setting, independent of the full TapRefiner."""

    name = "tap-refiner-webhooks-test"
    config_jsonschema = WEBHOOK_SETTINGS.to_dict()

    def discover_streams(self):
        return [WebhookEventsStream(self)]


def run_tap(capsys, config, state=None):
    """Sync and return (records, last state) from the Singer messages on stdout."""
    capsys.readouterr()
    MiniTap(config=config, state=state).sync_all()
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return records, states[-1] if states else None


def fill(store_path, *numbers):
    store = EventStore(store_path)
    try:
        store.insert_many([WebhookEvent.from_payload(sample_event(n)) for n in numbers])
    finally:
        store.close()


def test_setting_is_documented():
    schema = WEBHOOK_SETTINGS.to_dict()["properties"]["webhook_store"]
    assert "refiner-webhooks serve" in schema["description"]
    assert "string" in schema["type"]


def test_records_match_the_schema_and_keep_the_whole_payload(capsys, store_path):
    body = {**sample_event(1), "cookie_uuid": "c-1", "nested": {"deep": [1, {"x": None}]}}
    store = EventStore(store_path)
    store.insert_many([WebhookEvent.from_payload(body)])
    store.close()
    (record,), _ = run_tap(capsys, {"webhook_store": str(store_path)})
    assert record["seq"] == 1
    assert record["event_type"] == "Completed Survey"
    assert record["contact_uuid"] == "contact-1"
    assert record["remote_id"] == "user-1"
    assert record["email"] == "user1@example.com"
    assert record["form_uuid"] == "form-1"
    assert record["response_uuid"] == "response-1"
    assert record["segment_uuids"] == ["seg-all"]
    assert record["received_at"].endswith("Z")
    assert record["payload"] == body
    stream_schema = WebhookEventsStream(MiniTap(config={})).schema["properties"]
    assert set(record) == set(stream_schema)


def test_incremental_second_run_emits_only_new_events(capsys, store_path):
    fill(store_path, 1, 2, 3)
    first, state = run_tap(capsys, {"webhook_store": str(store_path)})
    assert [r["seq"] for r in first] == [1, 2, 3]
    bookmark = state["bookmarks"]["webhook_events"]
    assert bookmark["replication_key"] == "seq"
    assert bookmark["replication_key_value"] == 3

    fill(store_path, 3, 4, 5)  # 3 is a redelivery: not stored again
    second, state = run_tap(capsys, {"webhook_store": str(store_path)}, state=state)
    assert [r["seq"] for r in second] == [4, 5]
    assert state["bookmarks"]["webhook_events"]["replication_key_value"] == 5

    third, _ = run_tap(capsys, {"webhook_store": str(store_path)}, state=state)
    assert third == []


def test_unset_store_skips_with_one_clear_line(capsys, caplog):
    with caplog.at_level(logging.INFO):
        records, _ = run_tap(capsys, {})
    assert records == []
    lines = [r.getMessage() for r in caplog.records if "webhook_store" in r.getMessage()]
    assert len(lines) == 1
    assert "Skipping stream webhook_events" in lines[0]
    assert "refiner-webhooks serve --store PATH" in lines[0]


def test_missing_store_is_a_clear_error(capsys, tmp_path):
    missing = tmp_path / "nope" / "events.sqlite"
    with pytest.raises(RunStoppedError, match="does not exist") as info:
        run_tap(capsys, {"webhook_store": str(missing)})
    assert "unset `webhook_store`" in str(info.value)
    assert not missing.parent.exists()  # reading never creates anything


def tap_refiner_with_webhooks():
    from tap_refiner.tap import TapRefiner  # noqa: PLC0415 - written concurrently; may lag

    if "webhook_store" not in TapRefiner.config_jsonschema["properties"]:
        pytest.skip("TapRefiner does not register webhook_events / webhook_store yet (lead)")
    return TapRefiner


def test_tap_refiner_serves_the_stream(capsys, store_path):
    tap_class = tap_refiner_with_webhooks()
    fill(store_path, 1, 2)
    config = {"api_key": "demo-key", "api_url": "http://127.0.0.1:9/v1"}
    tap = tap_class(config={**config, "webhook_store": str(store_path)})
    capsys.readouterr()
    tap.streams["webhook_events"].sync()
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [m["record"]["seq"] for m in messages if m["type"] == "RECORD"] == [1, 2]
