"""Emulator (sending real webhooks) -> receiver subprocess -> store -> tap stream."""

import json

import pytest
from singer_sdk import Tap

from refiner_emulator.testing import EmulatorProcess
from refiner_http import RefinerClient
from refiner_webhooks.testing import ReceiverProcess
from tap_refiner.webhook_events import WEBHOOK_SETTINGS, WebhookEventsStream


class MiniTap(Tap):
    name = "tap-refiner-webhooks-e2e"
    config_jsonschema = WEBHOOK_SETTINGS.to_dict()

    def discover_streams(self):
        return [WebhookEventsStream(self)]


def sync(capsys, store_path, state=None):
    capsys.readouterr()
    MiniTap(config={"webhook_store": str(store_path)}, state=state).sync_all()
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    return records, [m["value"] for m in messages if m["type"] == "STATE"][-1]


@pytest.fixture
def pipeline(store_path, secret):
    """A receiver, and an emulator that delivers its webhooks there with the secret."""
    with ReceiverProcess(store_path, secret=secret) as receiver:
        emulator = EmulatorProcess(
            "--contacts", "20", "--responses", "20",
            "--webhook-url", receiver.url + "webhooks",
            "--webhook-secret", secret,
            "--event-segment", "Segment Match",
        )  # fmt: skip
        with emulator, RefinerClient(emulator.api_key, emulator.api_url) as api:
            yield emulator, api, receiver


def first_form(api):
    return api.request("GET", "/v1/forms")["items"][0]["uuid"]


def manual_segment(api):
    return next(s for s in api.request("GET", "/v1/segments")["items"] if s["is_manual"])["uuid"]


def test_every_event_type_reaches_the_tap(pipeline, store_path, capsys):
    emulator, api, _ = pipeline
    form_uuid = first_form(api)
    segment_uuid = manual_segment(api)

    stored = api.request(
        "POST", "/v1/responses", json_body={"form_uuid": form_uuid, "id": "wh-1", "nps": 9}
    )
    joined = api.request(
        "POST", "/v1/sync-segment", json_body={"segment_uuid": segment_uuid, "id": "wh-1"}
    )
    api.request("POST", "/v1/responses/tags", json_body={"uuid": stored["uuid"], "tags": ["vip"]})
    deliveries = emulator.wait_for_webhooks(3)
    assert [(d["status"], d["delivered"]) for d in deliveries] == [(200, True)] * 3

    records, state = sync(capsys, store_path)
    assert [r["event_type"] for r in records] == ["Completed Survey", "Segment Match", "Tag Added"]
    completed, segment, tagged = records
    assert completed["response_uuid"] == stored["uuid"]
    assert completed["form_uuid"] == form_uuid
    assert completed["remote_id"] == "wh-1"
    assert completed["payload"]["response"]["data"] == {"nps": 9}
    assert segment["contact_uuid"] == joined["contact_uuid"] == completed["contact_uuid"]
    assert segment_uuid in segment["segment_uuids"]
    assert segment["response_uuid"] is None
    assert "response" not in segment["payload"]
    assert [t["name"] for t in tagged["payload"]["response"]["tags"]] == ["vip"]
    assert tagged["response_uuid"] == stored["uuid"]
    assert [r["seq"] for r in records] == [1, 2, 3]

    # Incremental: the next run emits only what arrived since.
    api.request("POST", "/v1/responses", json_body={"form_uuid": form_uuid, "id": "wh-2", "nps": 3})
    emulator.wait_for_webhooks(4)
    records, _ = sync(capsys, store_path, state=state)
    assert [(r["seq"], r["remote_id"]) for r in records] == [(4, "wh-2")]


def test_wrong_secret_is_refused_and_nothing_stored(store_path, secret, rows):
    with ReceiverProcess(store_path, secret=secret) as receiver:
        emulator = EmulatorProcess(
            "--webhook-url", receiver.url + "webhooks", "--webhook-secret", "not-the-secret"
        )
        with emulator, RefinerClient(emulator.api_key, emulator.api_url) as api:
            segment_uuid = manual_segment(api)
            api.request(
                "POST", "/v1/sync-segment", json_body={"segment_uuid": segment_uuid, "id": "x"}
            )
            (delivery,) = emulator.wait_for_webhooks(1)
        assert delivery["status"] == 401
        assert not delivery["delivered"]
        assert "not-the-secret" not in receiver.log_text()
    assert rows(store_path) == []
