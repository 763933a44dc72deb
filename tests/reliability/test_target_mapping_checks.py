"""A mapping that names a column the stream does not have stops the run before any call for that
stream, with one line naming the setting, the column and the columns there are. Real target CLI,
real emulator; assertions on what the emulator received, the exit code and the STATE emitted."""

from __future__ import annotations

import pytest

from tests.reliability.target_processes import last_error_line, run_target, states_of


def schema(stream: str, properties: dict, **extra) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "key_properties": [],
        "schema": {"type": "object", "properties": properties, **extra},
    }


def record(stream: str, row: dict) -> dict:
    return {"type": "RECORD", "stream": stream, "record": row}


USER_COLUMNS = {"user_id": {}, "email": {}, "plan": {}}
USERS = [
    record("users", {"user_id": f"u{n}", "email": f"u{n}@example.com", "plan": "pro"})
    for n in (1, 2, 3)
]


def identify_calls(emu) -> list[dict]:
    return [c for c in emu.calls(path="/v1/identify-user") if c["status"] == 200]


def assert_stopped(result, *fragments: str) -> None:
    assert result.returncode == 1, result.stderr[-2000:]
    line = last_error_line(result.stderr)
    for fragment in fragments:
        assert fragment in line
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "mapping",
    [
        {"user_id": "userid"},  # today: every row dead-lettered, exit 0
        {"user_id": "userid", "email": "email"},  # today: sent by email, user_id as a trait
    ],
)
def test_a_misspelt_column_stops_at_the_schema(emu, config, tmp_path, mapping):
    cfg = {**config, "mappings": {"users": mapping}}
    messages = [schema("users", USER_COLUMNS), *USERS, {"type": "STATE", "value": {"users": 3}}]
    result = run_target(cfg, messages, tmp_path)
    assert_stopped(
        result,
        "Setting `mappings.users.user_id` names column 'userid'",
        "its schema's columns: email, plan, user_id",
    )
    assert identify_calls(emu) == []
    assert result.stdout == ""


def test_without_schema_columns_the_first_row_decides(emu, config, tmp_path):
    cfg = {**config, "mappings": {"users": {"user_id": "user_id", "account": {"id": "company"}}}}
    messages = [schema("users", {}), *USERS]
    result = run_target(cfg, messages, tmp_path)
    assert_stopped(
        result,
        "Setting `mappings.users.account.id` names column 'company'",
        "the columns of its first row (its schema lists none): email, plan, user_id",
    )
    assert identify_calls(emu) == []


def test_a_column_present_with_null_in_the_first_row_counts(emu, config, tmp_path):
    cfg = {**config, "mappings": {"users": {"user_id": "user_id", "email": "email"}}}
    rows = [
        record("users", {"user_id": None, "email": "nobody-id@example.com", "plan": "free"}),
        *USERS,
    ]
    result = run_target(cfg, [schema("users", {}, additionalProperties=True), *rows], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(identify_calls(emu)) == 4


def test_the_schema_after_stream_maps_is_checked(emu, config, tmp_path):
    cfg = {
        **config,
        "stream_maps": {"users": {"email": None}},
        "mappings": {"users": {"user_id": "user_id", "email": "email"}},
    }
    result = run_target(cfg, [schema("users", USER_COLUMNS), *USERS], tmp_path)
    assert_stopped(result, "`mappings.users.email` names column 'email'", ": plan, user_id")
    assert identify_calls(emu) == []


def test_an_unmapped_stream_needs_an_identity_column(emu, config, tmp_path):
    messages = [
        schema("accounts", {"account_no": {}, "name": {}}),
        record("accounts", {"account_no": "a1", "name": "Acme"}),
    ]
    result = run_target(config, messages, tmp_path)
    assert_stopped(
        result,
        "Stream 'accounts' has no entry in `mappings`, so `default_action` (identify)",
        "Add `mappings.accounts`",
    )
    assert identify_calls(emu) == []


def test_earlier_streams_finish_before_the_stop(emu, config, tmp_path):
    cfg = {**config, "mappings": {"events": {"action": "track", "user_id": "uid", "event": "name"}}}
    messages = [
        schema("users", USER_COLUMNS),
        *USERS,
        {"type": "STATE", "value": {"users": 3}},
        schema("events", {"user_id": {}, "name": {}}),
        record("events", {"user_id": "u1", "name": "Signed Up"}),
        {"type": "STATE", "value": {"events": 1}},
    ]
    result = run_target(cfg, messages, tmp_path)
    assert_stopped(result, "`mappings.events.user_id` names column 'uid'")
    assert sorted(c["params"]["id"] for c in identify_calls(emu)) == ["u1", "u2", "u3"]
    assert emu.events() == []
    assert states_of(result.stdout) == [{"users": 3}]
