import copy
import json

from refiner_webhooks.event import WebhookEvent, dedupe_key
from refiner_webhooks.testing import sample_event as survey_event


def test_columns_come_from_the_envelope():
    event = WebhookEvent.from_payload(survey_event(7))
    assert event.triggered_event == "Completed Survey"
    assert event.contact_uuid == "contact-7"
    assert event.remote_id == "user-7"
    assert event.email == "user7@example.com"
    assert event.form_uuid == "form-1"
    assert event.response_uuid == "response-7"
    assert event.segment_uuids == ["seg-all"]
    assert json.loads(event.payload) == survey_event(7)


def test_segment_event_has_no_form_or_response():
    body = survey_event(1, event="User Entered Segment")
    del body["form"], body["response"]
    event = WebhookEvent.from_payload(body)
    assert event.form_uuid is None
    assert event.response_uuid is None


def test_odd_shapes_never_raise():
    event = WebhookEvent.from_payload({"form": "x", "response": [], "segments": {"a": 1}})
    assert (event.form_uuid, event.response_uuid, event.segment_uuids) == (None, None, [])


def test_redelivery_with_a_rerendered_envelope_has_the_same_key():
    original = survey_event(1)
    again = copy.deepcopy(original)
    again["last_seen_at"] = "2026-02-01T00:00:00.000000Z"
    again["attributes"]["plan"] = "enterprise"
    again = dict(reversed(list(again.items())))  # key order does not matter
    assert dedupe_key(again) == dedupe_key(original)


def test_distinct_events_have_distinct_keys():
    base = survey_event(1)
    variants = [
        survey_event(2),
        survey_event(1, event="Tag Added"),
        {**base, "response": {**base["response"], "tags": [{"uuid": "t1", "name": "vip"}]}},
        {**base, "response": {**base["response"], "completed_at": "2026-03-01T00:00:00Z"}},
        {**base, "segments": [*base["segments"], {"uuid": "seg-2", "created_at": "2026"}]},
    ]
    keys = {dedupe_key(v) for v in variants} | {dedupe_key(base)}
    assert len(keys) == len(variants) + 1


def test_bodies_without_identity_are_keyed_by_content():
    assert dedupe_key({"a": 1, "b": 2}) == dedupe_key({"b": 2, "a": 1})
    assert dedupe_key({"a": 1}) != dedupe_key({"a": 2})
