"""contacts: every filter and setting, paging, early stop, schema conformance."""

from __future__ import annotations

import jsonschema

from tap_refiner import schemas
from tests.tap.taprun import api_items, run_tap


def contact_calls(emu):
    return [c for c in emu.calls(path="/v1/contacts") if c["method"] == "GET"]


def test_all_contacts_with_bearer_and_cursor_paging(emu):
    expected = {c["uuid"] for c in api_items(emu, "/contacts")}
    emu.reset()  # forget the ground-truth calls
    run = run_tap(emu, ["contacts"], page_length=70)
    records = run.records("contacts")
    assert len(records) == len(expected) == 300
    assert {r["uuid"] for r in records} == expected
    calls = contact_calls(emu)
    assert len(calls) == 5  # ceil(300 / 70)
    assert all(c["auth"] == "bearer" for c in calls)
    assert all(c["params"]["page_length"] == "70" for c in calls)
    assert "page_cursor" not in calls[0]["params"]
    assert all("page_cursor" in c["params"] and "page" not in c["params"] for c in calls[1:])


def test_records_conform_to_schema_and_use_utc_iso(emu):
    run = run_tap(emu, ["contacts"])
    validator = jsonschema.Draft7Validator(schemas.CONTACTS)
    records = run.records("contacts")
    for record in records:
        validator.validate(record)
        assert set(record) == set(schemas.CONTACTS["properties"])
    stamped = [r for r in records if r["first_seen_at"]]
    assert stamped
    assert all(r["first_seen_at"].endswith("Z") and "T" in r["first_seen_at"] for r in stamped)
    with_segments = [r for r in records if r["segments"]]
    assert with_segments
    assert all(s["created_at"].endswith("Z") for r in with_segments for s in r["segments"])
    (schema_message,) = run.schemas("contacts")
    assert schema_message["key_properties"] == ["uuid"]


def test_attributes_keep_unknown_keys(emu):
    raw = {c["uuid"]: c for c in api_items(emu, "/contacts")}
    for record in run_tap(emu, ["contacts"]).records("contacts"):
        assert record["attributes"] == raw[record["uuid"]]["attributes"]


def test_order_by_is_sent(emu):
    run = run_tap(emu, ["contacts"], contacts_order_by="last_seen_at")
    assert all(c["params"]["order_by"] == "last_seen_at" for c in contact_calls(emu))
    seen = [r["last_seen_at"] for r in run.records("contacts")]
    assert len(seen) == 300
    assert seen in (sorted(seen), sorted(seen, reverse=True))


def test_segment_filter(emu):
    segment = api_items(emu, "/segments")[0]
    expected = {c["uuid"] for c in api_items(emu, "/contacts", segment_uuid=segment["uuid"])}
    emu.reset()
    run = run_tap(emu, ["contacts"], contacts_segment_uuid=segment["uuid"])
    records = run.records("contacts")
    assert {r["uuid"] for r in records} == expected
    assert all(segment["uuid"] in {s["uuid"] for s in r["segments"]} for r in records)
    assert all(c["params"]["segment_uuid"] == segment["uuid"] for c in contact_calls(emu))


def test_form_filter(emu):
    form = api_items(emu, "/forms")[0]
    expected = {c["uuid"] for c in api_items(emu, "/contacts", form_uuid=form["uuid"])}
    assert 0 < len(expected) < 300
    emu.reset()
    run = run_tap(emu, ["contacts"], contacts_form_uuid=form["uuid"])
    assert {r["uuid"] for r in run.records("contacts")} == expected
    assert all(c["params"]["form_uuid"] == form["uuid"] for c in contact_calls(emu))


def test_search(emu):
    target = api_items(emu, "/contacts")[17]
    emu.reset()
    run = run_tap(emu, ["contacts"], contacts_search=target["email"])
    records = run.records("contacts")
    assert target["uuid"] in {r["uuid"] for r in records}
    assert all(c["params"]["search"] == target["email"] for c in contact_calls(emu))


def test_max_contacts_stops_early(emu):
    run = run_tap(emu, ["contacts"], max_contacts=25, page_length=10)
    assert len(run.records("contacts")) == 25
    calls = contact_calls(emu)
    assert len(calls) == 3  # 10 + 10 + 5 of the third page, then no more requests


def test_max_contacts_shrinks_the_page(emu):
    run = run_tap(emu, ["contacts"], max_contacts=7)
    assert len(run.records("contacts")) == 7
    (call,) = contact_calls(emu)
    assert call["params"]["page_length"] == "7"


def test_page_length_default_variant_does_not_matter(emu):
    emu.configure(page_length_default=50)
    assert len(run_tap(emu, ["contacts"]).records("contacts")) == 300
    assert all(c["params"]["page_length"] == "1000" for c in contact_calls(emu))
