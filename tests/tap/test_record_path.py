"""The lean record path emits what the SDK's default path emits; maps, flattening, selection."""

from __future__ import annotations

from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_refiner.client import RefinerStream
from tap_refiner.tap import TapRefiner
from tests.tap.taprun import run_tap, tap_config


def test_same_records_as_the_sdk_default_path(emu, monkeypatch):
    lean = run_tap(emu, ["contacts", "responses"], start_date="2026-03-01T00:00:00Z")
    monkeypatch.setattr(RefinerStream, "TYPE_CONFORMANCE_LEVEL", TypeConformanceLevel.RECURSIVE)
    sdk = run_tap(emu, ["contacts", "responses"], start_date="2026-03-01T00:00:00Z")
    for stream in ("contacts", "responses"):
        assert lean.records(stream) == sdk.records(stream)
        assert len(lean.records(stream)) > 0
    assert all("time_extracted" in m for m in lean.messages if m["type"] == "RECORD")


def catalog_without(emu, stream: str, prop: str) -> dict:
    catalog = TapRefiner(config=tap_config(emu)).catalog_dict
    for entry in catalog["streams"]:
        selected = entry["tap_stream_id"] == stream
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = selected
            if item["breadcrumb"] == ["properties", prop]:
                item["metadata"]["selected"] = False
    return catalog


def test_deselected_property_is_dropped(emu):
    run = run_tap(emu, [], catalog=catalog_without(emu, "contacts", "attributes"))
    records = run.records("contacts")
    assert len(records) == 300
    assert all("attributes" not in r for r in records)
    assert all("email" in r for r in records)


def test_stream_maps_apply(emu):
    maps = {"contacts": {"email": "__NULL__", "domain": "email.split('@')[-1] if email else None"}}
    records = run_tap(emu, ["contacts"], stream_maps=maps).records("contacts")
    assert len(records) == 300
    assert all("email" not in r for r in records)
    assert any(r["domain"] == "example.com" for r in records)


def test_schema_flattening(emu):
    run = run_tap(emu, ["contacts"], flattening_enabled=True, flattening_max_depth=1)
    record = next(r for r in run.records("contacts") if r.get("account__uuid"))
    assert "account" not in record
    (schema,) = run.schemas("contacts")
    assert "account__uuid" in schema["schema"]["properties"]
