"""Records projected from the schemas are exactly what the hand-written shapes gave.

The reference below restates the hand-written shapes the tap used before the projection
(tap_refiner/shapes.py at a3ac88b): the same hand-typed field lists, in the same order, with
the same rules (a key as sent, a timestamp normalised, a nested object only when it is one).
Every record the tap emits for the projected streams must equal theirs to the byte (keys, key
order, None handling, UTC timestamps), on the emulator's seeded data in both timestamp formats.
"""

from __future__ import annotations

import json

import pytest

from tap_refiner import schemas
from tap_refiner.projection import projection
from tap_refiner.tap import TapRefiner
from tap_refiner.timestamps import normalize
from tests.tap.taprun import api_items, run_tap, tap_config

START = "2026-03-01T00:00:00Z"


# -- the hand-written shapes of a3ac88b, restated -----------------------------------------------
def pick(raw, fields: str, stamps: str = ""):
    """Each of ``fields`` as sent, except ``stamps``, normalised (the old shapes' two lines)."""
    stamped = set(stamps.split())
    return {f: normalize(raw.get(f)) if f in stamped else raw.get(f) for f in fields.split()}


def old_account(raw):
    if not isinstance(raw, dict):
        return None
    fields = "uuid remote_id domain display_name first_seen_at last_seen_at attributes"
    return pick(raw, fields, "first_seen_at last_seen_at")


def old_contact(raw):
    segments = raw.get("segments")
    stamps = "first_seen_at last_seen_at last_form_submission_at last_tracking_event_at"
    return {
        **pick(raw, "uuid remote_id email display_name " + stamps, stamps),
        "attributes": raw.get("attributes"),
        "segments": None
        if segments is None
        else [
            pick(s, "uuid name created_at updated_at", "created_at updated_at") for s in segments
        ],
        "account": old_account(raw.get("account")),
    }


def old_segment(raw):
    return pick(raw, "uuid name is_manual")


def old_response(raw):
    form = raw.get("form") if isinstance(raw.get("form"), dict) else None
    person = raw.get("contact")
    stamps = (
        "first_shown_at last_shown_at first_data_reception_at last_data_reception_at "
        "completed_at received_at dismissed_at"
    )
    fields = (
        "first_shown_at last_shown_at show_counter first_data_reception_at "
        "last_data_reception_at completed_at received_at dismissed_at data tags"
    )
    return {
        "uuid": raw.get("uuid"),
        "form_uuid": form.get("uuid") if form else None,
        "form": pick(form, "uuid name") if form else None,
        **pick(raw, fields, stamps),
        "contact": {
            **pick(person, "uuid remote_id email display_name attributes"),
            "account": old_account(person.get("account")),
        }
        if isinstance(person, dict)
        else None,
    }


def old_form(raw):
    stamps = "created_at updated_at published_at archived_at first_form_view_at last_form_view_at"
    counts = "responses_count views_count folder page_url config"
    return pick(raw, f"uuid name channels {stamps} {counts}", stamps)


def old_account_usage(body, extracted_at):
    raw = body.get("subscription")
    subscription = raw if isinstance(raw, dict) else {}
    counters = "plan mtu_count mtu_limit mpv_count mpv_limit msr_count msr_limit mte_count"
    return {
        "extracted_at": extracted_at,
        **pick(subscription, counters),
        "subscription": subscription,
        "environments": body.get("environments"),
    }


# -- the projection on its own ----------------------------------------------------------------
NESTED_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": ["string"]},
        "seen_at": {"type": ["string", "null"], "format": "date-time"},
        "attributes": {"type": ["object", "null"], "properties": {}, "additionalProperties": True},
        "owner": {
            "type": ["object", "null"],
            "properties": {
                "name": {"type": ["string", "null"]},
                "joined_at": {"type": ["string", "null"], "format": "date-time"},
            },
        },
        "visits": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {
                    "at": {"type": ["string", "null"], "format": "date-time"},
                    "page": {"type": ["string", "null"]},
                },
            },
        },
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "kept": {"type": ["object", "null"], "properties": {"a": {"type": ["integer", "null"]}}},
    },
}


def test_projection_keeps_schema_keys_in_order_and_conforms_nested_values():
    project = projection(NESTED_SCHEMA, as_sent=("kept",))
    item = {
        "extra": "dropped",
        "tags": ["x"],
        "visits": [{"page": "/a", "at": "2026-03-01 10:00:00", "ref": "dropped"}, {}],
        "owner": {"joined_at": "2026-03-02T10:00:00.000000Z", "name": "Ann", "age": 3},
        "attributes": {"customer": {"own": "keys"}},
        "seen_at": "",
        "id": "c-1",
        "kept": {"a": 1, "b": 2},
    }
    record = project(item)
    assert json.dumps(record) == json.dumps(
        {
            "id": "c-1",
            "seen_at": None,
            "attributes": {"customer": {"own": "keys"}},
            "owner": {"name": "Ann", "joined_at": "2026-03-02T10:00:00.000000Z"},
            "visits": [
                {"at": "2026-03-01T10:00:00.000000Z", "page": "/a"},
                {"at": None, "page": None},
            ],
            "tags": ["x"],
            "kept": {"a": 1, "b": 2},
        }
    )
    assert record["attributes"] is item["attributes"]  # open objects pass untouched
    assert item["visits"][0]["ref"] == "dropped"  # the API's item is not changed


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({}, {"owner": None, "visits": None}),
        ({"owner": "not an object", "visits": []}, {"owner": None, "visits": []}),
        (
            {"owner": {}, "visits": None},
            {"owner": {"name": None, "joined_at": None}, "visits": None},
        ),
    ],
)
def test_projection_of_missing_or_odd_nested_values(item, expected):
    record = projection(NESTED_SCHEMA)(item)
    assert list(record) == list(NESTED_SCHEMA["properties"])
    assert {"owner": record["owner"], "visits": record["visits"]} == expected


# -- against the hand-written shapes, on the emulator's data ---------------------------------
def same(records, expected):
    assert records
    assert [json.dumps(r) for r in records] == [json.dumps(e) for e in expected]


@pytest.mark.parametrize("timestamp_format", ["iso", "plain"])
def test_contacts_and_segments_as_the_hand_written_shapes(emu, timestamp_format):
    emu.configure(timestamp_format=timestamp_format)
    contacts = api_items(emu, "/contacts")
    assert any(c["account"] for c in contacts)
    assert any(c["segments"] for c in contacts)
    run = run_tap(emu, ["contacts", "segments"])
    same(run.records("contacts"), [old_contact(c) for c in contacts])
    same(run.records("segments"), [old_segment(s) for s in api_items(emu, "/segments")])
    project = projection(schemas.CONTACTS)
    same([project(c) for c in contacts], [old_contact(c) for c in contacts])


@pytest.mark.parametrize("timestamp_format", ["iso", "plain"])
def test_responses_and_forms_as_the_hand_written_shapes(emu, timestamp_format):
    emu.configure(timestamp_format=timestamp_format)
    raw = api_items(emu, "/responses", with_attributes=1, include="all")
    forms = api_items(emu, "/forms", list="all_with_archived", include_info=1, include_config=1)
    run = run_tap(emu, ["responses", "forms"], with_attributes=True, responses_include="all")
    by_uuid = {r["uuid"]: r for r in raw}
    records = run.records("responses")
    assert len(records) == len(raw)
    same(records, [old_response(by_uuid[r["uuid"]]) for r in records])
    same(run.records("forms"), [old_form(f) for f in forms])


ODD_RESPONSES = [
    {"uuid": "r-1", "form": {}, "contact": {}},
    {"uuid": "r-2", "form": "not an object", "contact": None, "data": {"q": 1}},
    {"uuid": "r-3", "form": {"uuid": "f-1"}, "contact": {"account": {}}},
    {},
]


def test_odd_responses_as_the_hand_written_shape(emu):
    stream = TapRefiner(config=tap_config(emu)).streams["responses"]
    same([stream.post_process(r) for r in ODD_RESPONSES], [old_response(r) for r in ODD_RESPONSES])


def test_account_usage_as_the_hand_written_shape(emu, emu_api):
    (record,) = run_tap(emu, ["account"]).records("account")
    body = emu_api.ok("GET", "/account")
    same([record], [old_account_usage(body, record["extracted_at"])])
    stream = TapRefiner(config=tap_config(emu)).streams["account"]
    odd = {"subscription": "not an object", "environments": [{"uuid": "e", "more": 1}, 2]}
    (row,) = [stream.post_process(odd)]
    same([row], [old_account_usage(odd, row["extracted_at"])])
