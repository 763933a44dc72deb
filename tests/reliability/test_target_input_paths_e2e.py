"""RECORD and BATCH input reach Refiner the same way, through the real ``target-refiner`` CLI.

The same rows go in once as RECORD messages and once as a BATCH file (JSONL, plain and gzip), with
a ``stream_maps`` setting that drops ``email``; the emulator's call log shows what Refiner got.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from tests.reliability.target_processes import run_target, singer_lines, start_target, states_of

SCHEMA = {
    "type": "SCHEMA",
    "stream": "users",
    "key_properties": ["id"],
    "schema": {
        "type": "object",
        "properties": {
            "id": {"type": ["string", "null"]},
            "email": {"type": "string"},
            "plan": {"type": "string"},
            "note": {"type": "string"},
            "score": {"type": "number"},
        },
    },
}
ROWS = [
    {"id": "u1", "email": "one@example.com", "plan": "Basic Monthly"},
    {"id": "u2", "email": "two@example.com", "plan": "Pro", "note": "bearer of news"},
    {"id": "u3", "email": "three@example.com", "note": "https://x.example/?token=abc"},
]
DROP_EMAIL = {"users": {"email": None}}


def batch_file(tmp_path, rows: list[dict[str, Any]], compression: str) -> dict[str, Any]:
    """A real batch file holding ``rows`` and the BATCH message naming it."""
    lines = "".join(json.dumps(row) + "\n" for row in rows).encode()
    path = tmp_path / f"users-{compression}.jsonl"
    path.write_bytes(gzip.compress(lines) if compression == "gzip" else lines)
    return {
        "type": "BATCH",
        "stream": "users",
        "encoding": {"format": "jsonl", "compression": compression},
        "manifest": [path.as_uri()],
    }


def sent_calls(emu) -> list[tuple[str, str, str]]:
    """What Refiner received besides the start-up key check, in a comparable order."""
    calls = [
        (c["method"], c["path"], json.dumps(c["params"], sort_keys=True))
        for c in emu.calls()
        if c["path"] != "/v1/"
    ]
    return sorted(calls)


def run_path(  # noqa: PLR0913
    emu, config, tmp_path, name: str, body: list[dict[str, Any]], *, exit_code: int = 0
):
    """Run the CLI on a fresh emulator and state dir; (process, calls Refiner received).

    ``exit_code`` 1: every row is rejected, which fails the run (after its STATE).
    """
    emu.reset(data=True)
    run_config = {**config, "state_dir": str(tmp_path / name), "stream_maps": DROP_EMAIL}
    done = run_target(
        run_config, [SCHEMA, *body, {"type": "STATE", "value": {"n": 1}}], tmp_path, name
    )
    assert done.returncode == exit_code, done.stderr[-3000:]
    return done, sent_calls(emu)


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_email_dropped_by_stream_map_never_reaches_refiner_in_either_path(
    emu, config, tmp_path, compression
):
    records = [{"type": "RECORD", "stream": "users", "record": row} for row in ROWS]
    _, record_calls = run_path(emu, config, tmp_path, "record", records)
    batch = [batch_file(tmp_path, ROWS, compression)]
    _, batch_calls = run_path(emu, config, tmp_path, "batch", batch)

    assert len(batch_calls) == 3
    assert {path for _, path, _ in batch_calls} == {"/v1/identify-user"}
    assert batch_calls == record_calls
    assert "example.com" not in json.dumps(batch_calls)
    for user in ("u1", "u2", "u3"):
        contact = emu.contact(user)
        assert contact is not None
        assert "example.com" not in json.dumps(contact)


def test_dead_letter_lines_match_across_paths_as_strict_json_with_only_the_key_masked(
    emu, config, tmp_path
):
    rows = [
        # A NaN score, and the API key pasted into a field: rejected, and written safely.
        {"id": "u7", "email": "nan@example.com", "plan": "Basic Monthly", "score": float("nan")},
        {"id": None, "email": "nobody@example.com", "note": f"key {emu.api_key} bearer of news"},
    ]
    records = [{"type": "RECORD", "stream": "users", "record": row} for row in rows]
    for name, body in (("record", records), ("batch", [batch_file(tmp_path, rows, "gzip")])):
        done, _ = run_path(emu, config, tmp_path, name, body, exit_code=1)
        assert "Every row of stream 'users' (2 rows) was rejected" in done.stderr

    def dead_letter(name):
        text = (tmp_path / name / "dead-letter.jsonl").read_text()
        assert emu.api_key not in text
        lines = [json.loads(x, parse_constant=pytest.fail) for x in text.splitlines()]
        return sorted(((x["record"], x["reason"]) for x in lines), key=json.dumps)

    assert dead_letter("batch") == dead_letter("record")
    by_id = {row["id"]: (row, reason) for row, reason in dead_letter("batch")}
    assert by_id["u7"][0] == {**rows[0], "score": "NaN"}  # email kept: the row as it arrived
    assert "field 'score' was NaN, written as the string \"NaN\"" in by_id["u7"][1]
    assert by_id[None][0] == {**rows[1], "note": "key *** bearer of news"}


def test_state_after_a_batch_comes_after_its_rows_reached_refiner(emu, config, tmp_path):
    """Observed order: when the STATE line appears, every row of the batch is in Refiner."""
    emu.configure(latency_ms=150)
    cfg = {**config, "max_concurrency": 1, "stream_maps": DROP_EMAIL}
    batch = batch_file(tmp_path, ROWS, "none")
    with start_target(cfg, tmp_path / "config.json") as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(singer_lines([SCHEMA, batch, {"type": "STATE", "value": {"n": 1}}]))
        proc.stdin.flush()  # stdin stays open: the STATE is not the end-of-input drain
        first_state = proc.stdout.readline()
        calls_then = sent_calls(emu)
        proc.stdin.close()
        rest = proc.stdout.read()
    assert proc.returncode == 0
    assert states_of(first_state) == [{"n": 1}]  # a target writes the state value itself
    assert len(calls_then) == 3
    assert states_of(rest) in ([], [{"n": 1}])
