"""RECORD rows and BATCH-file rows take one path: stream maps, key checks, validation, mapping.

Each case runs the same rows twice against a fresh emulator, once as RECORD messages and once
as a BATCH file, and compares what Refiner (the emulator) received and what was dead-lettered.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.exceptions import MissingKeyPropertiesError

from target_refiner.progress import StreamRejectedError
from target_refiner.target import TargetRefiner
from tests.target.target_helpers import api_calls, record, run_target, schema, state

USERS = schema(
    "users",
    {
        "id": {"type": "string"},
        "email": {"type": "string"},
        "plan": {"type": "string"},
        "seats": {"type": "integer"},
        "renewed_at": {"type": "string"},
    },
    key_properties=["id"],
)
ROWS = [
    {"id": "u1", "email": "one@example.com", "plan": "Basic Monthly", "seats": 1},
    {"id": "u2", "email": "two@example.com", "plan": "free", "seats": 2},
    {"id": "u3", "email": "three@example.com", "plan": "Pro", "seats": 3},
]

# What Refiner gets for ROWS when only ``id`` and ``plan`` survive the stream map.
PLANS_ONLY = [
    {"id": "u1", "plan": "Basic Monthly"},
    {"id": "u2", "plan": "free"},
    {"id": "u3", "plan": "Pro"},
]


def batch_message(path: Path, rows: list[dict[str, Any]], *, gzipped: bool = False):
    """Write ``rows`` as a JSONL batch file; the BATCH message pointing at it."""
    lines = "".join(json.dumps(row) + "\n" for row in rows).encode()
    path.write_bytes(gzip.compress(lines) if gzipped else lines)
    return {
        "type": "BATCH",
        "stream": "users",
        "encoding": {"format": "jsonl", "compression": "gzip" if gzipped else "none"},
        "manifest": [path.as_uri()],
    }


def both_paths(emu, config, tmp_path, rows, *, raises: bool = False, **settings):
    """(record run, record calls), (batch run, batch calls): each on a fresh emulator."""
    results = []
    for name in ("record", "batch"):
        emu.reset(data=True)
        run_config = {
            **config,
            **settings,
            "state_dir": str(tmp_path / name / "state"),
        }
        if name == "record":
            messages = [USERS, *(record("users", row) for row in rows), state({"done": 1})]
        else:
            batch = batch_message(tmp_path / "users.jsonl", rows, gzipped=True)
            messages = [USERS, batch, state({"done": 1})]
        run = run_target(run_config, messages, raises=raises)
        calls = [
            (call["method"], call["path"], call["params"])
            for call in emu.calls()
            if call["path"] != "/v1/"  # the start-up key check
        ]
        # Users are sent concurrently: compare the calls, not their interleaving.
        results.append((run, sorted(calls, key=json.dumps)))
    return results


def test_stream_map_dropping_email_drops_it_in_both_paths(emu, config, tmp_path):
    (_, record_calls), (_, batch_calls) = both_paths(
        emu, config, tmp_path, ROWS, stream_maps={"users": {"email": None}}
    )
    assert len(batch_calls) == 3
    assert batch_calls == record_calls
    assert "example.com" not in json.dumps(batch_calls)


def test_else_none_map_keeps_only_the_named_fields_in_both_paths(emu, config, tmp_path):
    maps = {"users": {"id": "id", "plan": "plan", "__else__": None}}
    (_, record_calls), (_, batch_calls) = both_paths(emu, config, tmp_path, ROWS, stream_maps=maps)
    assert batch_calls == record_calls
    assert [params for _, _, params in batch_calls] == PLANS_ONLY


def test_filter_map_filters_in_both_paths(emu, config, tmp_path):
    maps = {"users": {"__filter__": "plan != 'free'"}}
    (_, record_calls), (_, batch_calls) = both_paths(emu, config, tmp_path, ROWS, stream_maps=maps)
    assert batch_calls == record_calls
    assert [params["id"] for _, _, params in batch_calls] == ["u1", "u3"]


def test_aliased_stream_uses_the_alias_mapping_in_both_paths(emu, config, tmp_path):
    maps = {"users": {"__alias__": "people", "email": None}}
    mappings = {"people": {"action": "identify", "user_id": "id", "exclude": ["seats"]}}
    (_, record_calls), (_, batch_calls) = both_paths(
        emu, config, tmp_path, ROWS, stream_maps=maps, mappings=mappings, default_action="none"
    )
    assert batch_calls == record_calls
    assert [params for _, _, params in batch_calls] == PLANS_ONLY


def test_missing_key_property_is_the_same_error_in_both_paths(emu, config, tmp_path):
    rows = [{"email": "nokey@example.com", "plan": "Pro"}]
    (record_run, _), (batch_run, batch_calls) = both_paths(emu, config, tmp_path, rows, raises=True)
    assert isinstance(record_run.error, MissingKeyPropertiesError)
    assert isinstance(batch_run.error, MissingKeyPropertiesError)
    assert batch_calls == []


def test_invalid_row_is_dead_lettered_with_the_same_reason_in_both_paths(emu, config, tmp_path):
    rows = [*ROWS[:1], {"id": "u9", "email": "nine@example.com", "seats": "many"}]
    (record_run, record_calls), (batch_run, batch_calls) = both_paths(
        emu, config, tmp_path, rows, validate_records=True
    )
    assert batch_calls == record_calls
    assert len(batch_calls) == 1

    def reasons(run):
        return [(line["record"], line["reason"]) for line in run.dead_letter()]

    assert reasons(batch_run) == reasons(record_run)
    [(row, reason)] = reasons(batch_run)
    assert row == rows[1]
    assert reason.startswith("row does not match the stream schema")


def test_dead_letter_holds_the_row_as_it_arrived_before_stream_maps(emu, config, tmp_path):
    rows = [{"id": None, "email": "lost@example.com", "plan": "Basic Monthly"}]
    maps = {"users": {"email": None}}  # without email and id, the row names nobody
    (record_run, _), (batch_run, batch_calls) = both_paths(
        emu, config, tmp_path, rows, stream_maps=maps, raises=True
    )
    assert batch_calls == []
    for run in (record_run, batch_run):
        assert isinstance(run.error, StreamRejectedError)  # its only row was rejected
        [line] = run.dead_letter()
        assert line["record"] == rows[0]


def test_row_refused_by_refiner_is_dead_lettered_as_it_arrived(emu, config, tmp_path):
    rows = [{**ROWS[0], "renewed_at": "next spring"}]  # Refiner: "... is not a valid date."
    maps = {"users": {"email": None}}
    (record_run, _), (batch_run, _) = both_paths(
        emu, config, tmp_path, rows, stream_maps=maps, raises=True
    )
    for run in (record_run, batch_run):
        assert isinstance(run.error, StreamRejectedError)
        [line] = run.dead_letter()
        assert line["record"] == rows[0]  # with the email the stream map dropped before sending
        assert line["status"] == 400
        assert "renewed_at" in json.dumps(line["body"])


def test_nan_row_is_dead_lettered_as_strict_json_in_both_paths(emu, config, tmp_path):
    rows = [{"id": "u1", "email": "nan@example.com", "score": float("nan")}]
    (record_run, _), (batch_run, batch_calls) = both_paths(emu, config, tmp_path, rows, raises=True)
    assert batch_calls == []
    for run in (record_run, batch_run):
        assert isinstance(run.error, StreamRejectedError)
        path = Path(run.config["state_dir"]) / "dead-letter.jsonl"
        lines = path.read_text().splitlines()
        [line] = [json.loads(x, parse_constant=pytest.fail) for x in lines]
        assert line["record"] == {**rows[0], "score": "NaN"}
        assert "field 'score' was NaN, written as the string \"NaN\"" in line["reason"]


def test_dead_letter_masks_only_the_api_key(emu, config, tmp_path):
    rows = [
        {
            "id": None,
            "plan": "Basic Monthly",
            "motto": "bearer of news",
            "link": "https://x.example/?token=abc",
            "pasted": f"key={config['api_key']}",
        }
    ]
    (_, _), (batch_run, _) = both_paths(emu, config, tmp_path, rows, raises=True)
    assert isinstance(batch_run.error, StreamRejectedError)
    [line] = batch_run.dead_letter()
    assert line["record"] == {**rows[0], "pasted": "key=***"}


def test_state_after_a_batch_waits_for_its_rows(emu, config, tmp_path, monkeypatch):
    emu.configure(latency_ms=100)
    seen: list[tuple[dict, int, int]] = []
    emit = TargetRefiner.emit_state

    def observe(self, value):
        sent = len(api_calls(emu, "/identify-user"))
        seen.append((value, self.runtime.tracker.outstanding, sent))
        emit(self, value)

    monkeypatch.setattr(TargetRefiner, "emit_state", observe)
    batch = batch_message(tmp_path / "users.jsonl", ROWS)
    run = run_target(config, [USERS, batch, state({"after": "batch"})])
    assert len(run.states) == 1
    # When the STATE went out, no row was unacknowledged and every row had been sent.
    assert seen[0] == ({"after": "batch"}, 0, 3)
