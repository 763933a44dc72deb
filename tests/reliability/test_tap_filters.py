"""Filters naming something the account does not have stop the run before any of its records.

Refiner answers an unknown uuid in a filter with an empty list; a green run that synced nothing
is what this prevents. Real ``tap-refiner`` processes against the emulator.
"""

from __future__ import annotations

from tap_refiner.timestamps import parse
from tests.reliability.tap_processes import records_of, states_of, sync
from tests.reliability.test_tap_stops import assert_one_line_stop

UNKNOWN = "00000000-0000-4000-8000-00000000dead"


def base(emu) -> dict[str, str]:
    return {"api_key": emu.api_key, "api_url": emu.api_url}


def test_an_unknown_survey_in_form_uuids_stops_before_any_response(emu, tmp_path):
    known = emu.api.items("/forms")[0]["uuid"]
    config = {**base(emu), "form_uuids": [known, UNKNOWN]}
    result = sync(config, ["responses", "answers"], tmp_path / "tap")
    line = assert_one_line_stop(result, "Setting `form_uuids`", f"survey '{UNKNOWN}' does not")
    assert known not in line
    records = records_of(result.stdout)
    assert "responses" not in records
    assert "answers" not in records
    assert not emu.calls(path="/v1/responses")


def test_an_unknown_segment_or_survey_for_contacts_stops_before_any_contact(emu, tmp_path):
    for setting in ("contacts_segment_uuid", "contacts_form_uuid"):
        result = sync({**base(emu), setting: UNKNOWN}, ["contacts"], tmp_path / setting)
        assert_one_line_stop(result, f"Setting `{setting}`", repr(UNKNOWN))
        assert "contacts" not in records_of(result.stdout)
    assert not emu.calls(path="/v1/contacts")


def test_known_filters_pass_and_an_archived_survey_is_known(emu, tmp_path):
    archived = emu.api.items("/forms", list="archived")[0]["uuid"]
    member = next(c for c in emu.api.items("/contacts") if c.get("segments"))
    segment = member["segments"][0]["uuid"]
    config = {**base(emu), "form_uuids": [archived], "contacts_segment_uuid": segment}
    result = sync(config, ["responses", "contacts"], tmp_path / "tap")
    assert result.returncode == 0, result.stderr[-3000:]
    records = records_of(result.stdout)
    responses = records["responses"]
    assert responses
    assert {r["form_uuid"] for r in responses} == {archived}
    assert all(segment in {s["uuid"] for s in c.get("segments") or []} for c in records["contacts"])


def test_filters_of_streams_not_selected_are_not_checked(emu, tmp_path):
    config = {**base(emu), "contacts_segment_uuid": UNKNOWN, "form_uuids": [UNKNOWN]}
    result = sync(config, ["segments"], tmp_path / "tap")
    assert result.returncode == 0, result.stderr[-3000:]
    assert records_of(result.stdout)["segments"]


def test_a_survey_added_after_a_run_is_read_from_start_date_by_the_next_run(emu, tmp_path):
    start = "2026-03-01T00:00:00Z"
    surveys = [f["uuid"] for f in emu.api.items("/forms")]
    responses = emu.api.items("/responses")
    rows = [r for r in responses if parse(r["last_data_reception_at"]) >= parse(start)]
    a, b = [u for u in surveys if any(r["form"]["uuid"] == u for r in rows)][:2]
    config = {**base(emu), "start_date": start, "responses_window_days": 10}
    first = sync({**config, "form_uuids": [a]}, ["responses"], tmp_path / "first")
    assert first.returncode == 0, first.stderr[-3000:]
    state = states_of(first.stdout)[-1]

    second = sync({**config, "form_uuids": [a, b]}, ["responses"], tmp_path / "second", state)
    assert second.returncode == 0, second.stderr[-3000:]
    read = {r["uuid"] for r in records_of(second.stdout)["responses"]}
    assert {r["uuid"] for r in rows if r["form"]["uuid"] == b} <= read
    assert "Setting `form_uuids` adds" in second.stderr
    filters = states_of(second.stdout)[-1]["bookmarks"]["responses"]["filters"]
    assert filters["form_uuids"] == sorted([a, b])
