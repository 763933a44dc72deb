"""Rejected rows are never a quiet success: a run in which every row of a stream was rejected
exits 1 after finishing the other streams; any rejection is a WARNING naming the count and the
dead-letter file; streams without a mapping are reported with what `default_action` did.
Real target CLI, real emulator."""

from __future__ import annotations

import json
from pathlib import Path

from tests.reliability.target_processes import last_error_line, run_target, states_of


def schema(stream: str, *columns: str) -> dict:
    properties = {c: {} for c in columns}
    return {
        "type": "SCHEMA",
        "stream": stream,
        "key_properties": [],
        "schema": {"properties": properties},
    }


def record(stream: str, row: dict) -> dict:
    return {"type": "RECORD", "stream": stream, "record": row}


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| WARNING  |" in line]


def identified(emu) -> list[str]:
    return sorted(
        c["params"]["id"] for c in emu.calls(path="/v1/identify-user") if c["status"] == 200
    )


USERS = [
    schema("users", "id", "plan"),
    *(record("users", {"id": f"u{n}", "plan": "pro"}) for n in (1, 2)),
]
TOO_LONG = "x" * 300  # Refiner refuses traits over 255 characters


def test_a_stream_whose_every_row_was_rejected_fails_the_run(emu, config, tmp_path):
    cfg = {**config, "mappings": {"users": {"user_id": "id"}, "notes": {"user_id": "id"}}}
    messages = [
        schema("notes", "id", "note"),
        record("notes", {"id": "u1", "note": TOO_LONG}),
        record("notes", {"id": "u2", "note": TOO_LONG}),
        {"type": "STATE", "value": {"notes": 2}},
        *USERS,
        {"type": "STATE", "value": {"users": 2}},
    ]
    result = run_target(cfg, messages, tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    dead_letter = Path(config["state_dir"]) / "dead-letter.jsonl"
    line = last_error_line(result.stderr)
    assert "Every row of stream 'notes' (2 rows) was rejected" in line
    assert str(dead_letter) in line
    assert "Traceback" not in result.stderr
    assert identified(emu) == ["u1", "u2"]  # the users stream was finished
    assert states_of(result.stdout)[-1] == {"users": 2}  # every row was acknowledged
    rejected = [json.loads(x) for x in dead_letter.read_text().splitlines()]
    assert [r["record"]["id"] for r in rejected] == ["u1", "u2"]
    assert any(
        "Summary for stream 'notes'" in w
        and f"2 rejected rows are in the dead-letter file {dead_letter}" in w
        for w in warnings(result.stderr)
    )


def test_some_rejected_rows_are_a_warning_with_count_and_file(emu, config, tmp_path):
    cfg = {**config, "mappings": {"users": {"user_id": "id"}}}
    messages = [*USERS, record("users", {"id": "u3", "plan": TOO_LONG})]
    result = run_target(cfg, messages, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert identified(emu) == ["u1", "u2"]
    dead_letter = Path(config["state_dir"]) / "dead-letter.jsonl"
    hint = f"1 rejected rows are in the dead-letter file {dead_letter}"
    found = [w for w in warnings(result.stderr) if hint in w]
    assert [("Summary for stream 'users'" in w, "Summary: " in w) for w in found] == [
        (True, False),
        (False, True),
    ]


def test_unnamed_streams_are_handled_by_default_action_and_reported(emu, config, tmp_path):
    cfg = {**config, "mappings": {"users": {"user_id": "id"}}}
    messages = [
        *USERS,
        schema("extra", "user_id", "plan"),
        record("extra", {"user_id": "e1", "plan": "x"}),
    ]
    result = run_target(cfg, messages, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert identified(emu) == ["e1", "u1", "u2"]
    assert any(
        "Streams without an entry in `mappings`, handled by `default_action`: 'extra' "
        "(identify: 1 rows in, 1 sent" in w
        for w in warnings(result.stderr)
    )

    emu.reset()
    rejecting = run_target({**cfg, "default_action": "none"}, messages, tmp_path, name="none")
    assert rejecting.returncode == 0, rejecting.stderr[-2000:]  # rejecting them was asked for
    assert identified(emu) == []  # u1, u2 unchanged (ledger); extra rejected
    assert any(
        "handled by `default_action`: 'extra' (none: 1 rows in, 0 sent" in w
        for w in warnings(rejecting.stderr)
    )
