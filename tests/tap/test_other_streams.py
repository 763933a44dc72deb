"""answers, forms, questions, segments, segment_memberships, account, reports."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jsonschema
import pytest
import requests

from tap_refiner import schemas
from tests.tap.taprun import api_items, run_tap

START = "2026-03-01T00:00:00Z"


def validate(records, schema):
    validator = jsonschema.Draft7Validator(schema)
    for record in records:
        validator.validate(record)
        assert set(record) == set(schema["properties"])


def test_answers_one_typed_row_per_question(emu):
    raw = api_items(emu, "/responses")
    run = run_tap(emu, ["answers"], start_date=START)
    rows = run.records("answers")
    validate(rows, schemas.ANSWERS)
    expected = {(r["uuid"], q) for r in raw for q in r["data"]}
    assert {(a["response_uuid"], a["question_id"]) for a in rows} == expected
    by_key = {(a["response_uuid"], a["question_id"]): a for a in rows}
    for response in raw:
        for question, value in response["data"].items():
            row = by_key[(response["uuid"], question)]
            assert row["form_uuid"] == response["form"]["uuid"]
            assert row["contact_uuid"] == response["contact"]["uuid"]
            assert row["contact_remote_id"] == response["contact"]["remote_id"]
            assert row["answered_at"] == response["last_data_reception_at"]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                assert row["value_number"] == value
                assert row["value"] == str(value)
            elif isinstance(value, str):
                assert row["value"] == value
    assert any(a["value_number"] is not None for a in rows)
    assert any(a["value_number"] is None for a in rows)
    (schema_message,) = run.schemas("answers")
    assert schema_message["key_properties"] == ["response_uuid", "question_id"]
    bookmark = run.last_state["bookmarks"]["answers"]
    assert bookmark["replication_key"] == "answered_at"


def test_forms_with_archived_info_and_config(emu):
    run = run_tap(emu, ["forms"])
    forms = run.records("forms")
    validate(forms, schemas.FORMS)
    expected = api_items(emu, "/forms", list="all_with_archived")
    assert {f["uuid"] for f in forms} == {f["uuid"] for f in expected}
    assert all(isinstance(f["config"], dict) for f in forms)
    calls = [c for c in emu.calls(path="/v1/forms") if c["method"] == "GET"]
    assert calls[0]["params"]["list"] == "all_with_archived"
    assert calls[0]["params"]["include_info"] == "1"
    assert calls[0]["params"]["include_config"] == "1"


def test_questions_from_form_elements(emu):
    forms = api_items(emu, "/forms", list="all_with_archived", include_config=1)
    run = run_tap(emu, ["questions"])
    rows = run.records("questions")
    validate(rows, schemas.QUESTIONS)
    expected = [
        (f["uuid"], str(e["id"]), e["type"], e["text"])
        for f in forms
        for e in f["config"]["form_elements"]
    ]
    assert sorted((q["form_uuid"], q["question_id"], q["type"], q["text"]) for q in rows) == sorted(
        expected
    )
    (schema_message,) = run.schemas("questions")
    assert schema_message["key_properties"] == ["form_uuid", "question_id"]


def test_segments(emu):
    run = run_tap(emu, ["segments"])
    rows = run.records("segments")
    validate(rows, schemas.SEGMENTS)
    assert rows == [
        {"uuid": s["uuid"], "name": s["name"], "is_manual": s["is_manual"]}
        for s in api_items(emu, "/segments")
    ]


def test_segment_memberships_per_segment_and_incremental(emu):
    segments = api_items(emu, "/segments")
    expected = {}
    for seg in segments:
        for person in api_items(emu, "/contacts", segment_uuid=seg["uuid"]):
            entry = next(s for s in person["segments"] if s["uuid"] == seg["uuid"])
            expected[(seg["uuid"], person["uuid"])] = entry["created_at"]
    emu.reset()
    first = run_tap(emu, ["segment_memberships"])
    rows = first.records("segment_memberships")
    validate(rows, schemas.SEGMENT_MEMBERSHIPS)
    assert {(r["segment_uuid"], r["contact_uuid"]): r["entered_at"] for r in rows} == expected
    assert first.records("segments") == []  # parent not selected, only used for partitions
    calls = [c for c in emu.calls(path="/v1/contacts") if c["method"] == "GET"]
    assert {c["params"]["segment_uuid"] for c in calls} == {s["uuid"] for s in segments}
    partitions = first.last_state["bookmarks"]["segment_memberships"]["partitions"]
    assert {p["context"]["segment_uuid"] for p in partitions} == {s["uuid"] for s in segments}
    # Second run: only rows at or after each segment's bookmark (the newest entries).
    second = run_tap(emu, ["segment_memberships"], state=first.last_state)
    again = second.records("segment_memberships")
    marks = {p["context"]["segment_uuid"]: p["replication_key_value"] for p in partitions}
    assert again
    assert len(again) < len(rows)
    assert all(r["entered_at"] >= marks[r["segment_uuid"]] for r in again)


def test_account_snapshot(emu):
    run = run_tap(emu, ["account"])
    (row,) = run.records("account")
    validate([row], schemas.ACCOUNT_USAGE)
    assert row["plan"]
    assert isinstance(row["mtu_count"], int)
    assert row["environments"]
    assert row["subscription"]["plan"] == row["plan"]
    extracted = datetime.fromisoformat(row["extracted_at"].replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - extracted).total_seconds()) < 60


@pytest.mark.parametrize("types", [["nps"], ["nps", "csat", "ratings"]])
def test_reports_per_form_type_and_day(emu, types):
    forms = [f["uuid"] for f in api_items(emu, "/forms", list="all_with_archived")]
    emu.reset()
    # One request at a time, so the emulator's first logged call is the run's first request.
    run = run_tap(emu, ["reports"], report_types=types, reports_days=3, max_concurrent_requests=1)
    rows = run.records("reports")
    validate(rows, schemas.REPORTS)
    today = datetime.now(timezone.utc).date()
    days = [(today - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    assert sorted((r["form_uuid"], r["type"], r["date"]) for r in rows) == sorted(
        (f, t, d) for f in forms for t in types for d in days
    )
    calls = emu.calls(path="/v1/reporting")
    assert len(calls) == len(forms) * len(types) * 3
    call = calls[0]["params"]
    assert call["form_uuids"] == [forms[0]]
    assert call["date_range_start"] == f"{days[0]} 00:00:00"
    assert call["date_range_end"] == f"{(today - timedelta(days=1)).isoformat()} 00:00:00"


def test_reports_numbers_match_the_api(emu):
    """Over a day with responses the row carries the API's own numbers."""
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    form = next(
        f
        for f in api_items(emu, "/forms", list="all_with_archived", include_config=1)
        if any(e["type"] == "nps" for e in f["config"]["form_elements"])
    )
    question = next(e["id"] for e in form["config"]["form_elements"] if e["type"] == "nps")
    today = datetime.now(timezone.utc).date()
    for n, score in enumerate((10, 9, 3)):
        reply = requests.post(
            emu.api_url + "/responses",
            json={"form_uuid": form["uuid"], "id": f"rep-{n}", question: score},
            headers=headers,
            timeout=10,
        )
        assert reply.status_code == 200, reply.text
    run = run_tap(emu, ["reports"], report_types=["nps"], reports_days=1)
    (row,) = [r for r in run.records("reports") if r["form_uuid"] == form["uuid"]]
    assert row["date"] == today.isoformat()
    body = requests.get(
        emu.api_url + "/reporting",
        params={
            "type": "nps",
            "form_uuids[]": form["uuid"],
            "date_range_start": today.isoformat(),
            "date_range_end": (today + timedelta(days=1)).isoformat(),
        },
        headers=headers,
        timeout=10,
    ).json()
    assert row["count"] == body["count"] == 3
    assert row["nps"] == body["nps"]
    assert row["data"] == body["data"]
