"""The sync log a real target-refiner run writes, against the emulator (issue 21).

Each test reads the ledger's SQLite file after the run and compares it with what the emulator
received, the run's summary lines, its dead-letter file and its exit code.
"""

from __future__ import annotations

import collections
import json
import re
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

from refiner_stores.sync_log import CHANGELOG, RUNS, SNAPSHOT
from tests.reliability import target_processes
from tests.reliability.audiences import (
    AUDIENCE,
    audience,
    by_method,
    last_seq,
    mirror_config,
    sync_calls,
)
from tests.reliability.target_processes import last_error_line, run_target, states_of

TOO_LONG = "x" * 300  # Refiner refuses traits over 255 characters
SUMMARY = re.compile(
    r"Summary for stream '(\w+)': (\d+) rows in, (\d+) sent, (\d+) skipped unchanged, "
    r"(\d+) skipped as replays, (\d+) rejected"
)
COUNTS = ("rows_in", "sent", "unchanged", "replays", "rejected")


def schema(stream: str, keys: list[str], *columns: str) -> dict[str, Any]:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "key_properties": keys,
        "schema": {"type": "object", "properties": {c: {} for c in columns}},
    }


def record(stream: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": row}


def rows(secret: str, members: range) -> list[dict[str, Any]]:
    """Users (two sent, one Refiner refuses, one without a user id), events, an audience."""
    return [
        schema("users", ["id"], "id", "plan", "renewed_at"),
        record("users", {"id": "u1", "plan": "pro"}),
        record("users", {"id": "u2", "plan": "free"}),
        record("users", {"id": "u3", "renewed_at": "soon"}),  # Refiner: not a valid date
        record("users", {"id": None, "plan": "pro"}),  # no user id: rejected before any call
        schema("events", [], "user_id", "name", "note"),
        record("events", {"user_id": "u1", "name": "Signed Up", "note": f"key {secret}"}),
        record("events", {"user_id": "u2", "name": "Signed Up", "note": "-"}),
        {"type": "STATE", "value": {"users": 4, "events": 2}},
        *audience(members)[:-1],  # the audience's rows, without its STATE
    ]


def config_for(config: dict[str, Any], segment: str) -> dict[str, Any]:
    mirrored = mirror_config(config, segment)["mappings"]
    return {
        **config,
        "mappings": {
            "users": {"user_id": "id"},
            "events": {"action": "track", "user_id": "user_id", "event": "name"},
            **mirrored,
        },
    }


def ledger_file(config: dict[str, Any]) -> Path:
    (path,) = Path(config["state_dir"]).glob("ledger-*.sqlite")
    return path


def query(config: dict[str, Any], sql: str, *args: object) -> list[sqlite3.Row]:
    db = sqlite3.connect(ledger_file(config))
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def runs(config: dict[str, Any]) -> list[sqlite3.Row]:
    return query(config, f"SELECT * FROM {RUNS} ORDER BY started_at, seq")  # noqa: S608


def changes(config: dict[str, Any], run_id: str) -> list[sqlite3.Row]:
    sql = f"SELECT * FROM {CHANGELOG} WHERE run_id = ? ORDER BY seq"  # noqa: S608
    return query(config, sql, run_id)


def summary_counts(stderr: str) -> dict[str, dict[str, int]]:
    """The summary line's numbers per stream, by the sync log's names."""
    return {
        m.group(1): dict(zip(COUNTS, map(int, m.groups()[1:]), strict=True))
        for m in SUMMARY.finditer(stderr)
    }


def logged_counts(logged: list[sqlite3.Row]) -> dict[str, dict[str, int]]:
    """The changelog's rows per stream, counted like the summary line."""
    out: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for row in logged:
        if row["outcome"] == "rejected":
            out[row["stream"]]["rejected"] += 1
        elif row["action"] == "unchanged":
            out[row["stream"]]["unchanged"] += 1
        elif row["action"] == "replay":
            out[row["stream"]]["replays"] += 1
        else:
            assert row["outcome"] == "applied", dict(row)
            out[row["stream"]]["sent"] += 1
    return {s: {k: c[k] for k in COUNTS if k != "rows_in"} for s, c in out.items()}


def identified(emu) -> set[str]:
    """The user ids of the identify calls the emulator answered 200."""
    return {c["params"]["id"] for c in emu.calls(path="/v1/identify-user") if c["status"] == 200}


def dead_letters(config: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    path = Path(config["state_dir"]) / "dead-letter.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [line for line in lines if line["run_id"] == run_id]


def check_run(config: dict[str, Any], result: Any) -> tuple[sqlite3.Row, list[sqlite3.Row]]:
    """The newest run's row and changes agree with its summary lines and dead-letter file."""
    assert result.returncode == 0, result.stderr[-3000:]
    run = runs(config)[-1]
    assert run["status"] == "finished"
    assert run["exit_code"] == 0
    logged = changes(config, run["run_id"])
    summary = summary_counts(result.stderr)
    assert json.loads(run["streams"]) == summary
    without_rows_in = {
        s: {k: v for k, v in c.items() if k != "rows_in"} for s, c in summary.items()
    }
    assert logged_counts(logged) == without_rows_in
    rejected = sorted(
        (r["stream"], r["message"], r["http_status"]) for r in logged if r["outcome"] == "rejected"
    )
    letters = dead_letters(config, run["run_id"])
    assert rejected == sorted((d["stream"], d["reason"], d.get("status")) for d in letters)
    return run, logged


def test_a_run_logs_each_outcome_as_the_summary_counts_it(emu, config, tmp_path):
    segment = emu.add_segment("Sync log")
    cfg = config_for(config, segment)
    first = run_target(cfg, rows(emu.api_key, range(1, 4)), tmp_path, "first")
    run, logged = check_run(cfg, first)
    assert json.loads(run["mirror"]) == {
        segment: {"members": 0, "adds": 3, "removes": 0, "applied_adds": 3, "applied_removes": 0}
    }
    by_key = {(r["stream"], r["row_key"]): r for r in logged}
    assert {k: (r["action"], r["outcome"]) for k, r in by_key.items() if k[0] == "users"} == {
        ("users", '{"id": "u1"}'): ("identify", "applied"),
        ("users", '{"id": "u2"}'): ("identify", "applied"),
        ("users", '{"id": "u3"}'): ("identify", "rejected"),
        ("users", '{"id": null}'): ("none", "rejected"),
    }
    refused = by_key["users", '{"id": "u3"}']
    assert refused["http_status"] == 400  # Refiner refused it
    assert "renewed_at attribute is not a valid date" in refused["message"]
    assert by_key["users", '{"id": "u1"}']["user_id"] == "u1"
    applied = {
        r["user_id"] for r in logged if r["action"] == "identify" and r["outcome"] == "applied"
    }
    assert applied == identified(emu) == {"u1", "u2"}

    seq = last_seq(emu)
    second = run_target(cfg, rows(emu.api_key, range(2, 5)), tmp_path, "second")
    run2, logged2 = check_run(cfg, second)
    assert by_method(sync_calls(emu, seq)) == {"POST": 1, "DELETE": 1}
    assert json.loads(run2["mirror"]) == {
        segment: {"members": 3, "adds": 1, "removes": 1, "applied_adds": 1, "applied_removes": 1}
    }
    actions = collections.Counter((r["stream"], r["action"]) for r in logged2)
    assert actions[("users", "unchanged")] == 2
    assert actions[("events", "replay")] == 2
    assert (actions[(AUDIENCE, "mirror_add")], actions[(AUDIENCE, "mirror_remove")]) == (1, 1)
    assert actions[(AUDIENCE, "unchanged")] == 2

    snapshot = query(cfg, f"SELECT * FROM {SNAPSHOT}")  # noqa: S608
    latest = {(r["stream"], r["row_key"]): r for r in logged2}
    assert {(r["stream"], r["row_key"]) for r in snapshot} == {*by_key, *latest}
    for row in snapshot:
        newest = (
            latest.get((row["stream"], row["row_key"])) or by_key[row["stream"], row["row_key"]]
        )
        assert (row["run_id"], row["seq"], row["action"]) == (
            newest["run_id"],
            newest["seq"],
            newest["action"],
        )

    # The key never reaches the sync log, though a row held it (the dead-letter file masks it).
    secret = emu.api_key.encode()
    for path in Path(cfg["state_dir"]).glob("ledger-*"):
        assert secret not in path.read_bytes(), path
    masked = [r["row_key"] for r in logged if r["stream"] == "events"]
    assert any('"note": "key ***"' in key for key in masked)


def identify_rows(count: int) -> list[dict[str, Any]]:
    return [
        schema("users", ["id"], "id", "plan"),
        *(record("users", {"id": f"u{n}", "plan": "pro"}) for n in range(count)),
        {"type": "STATE", "value": {"users": count}},
    ]


def start_slow_run(emu, config, tmp_path, name):
    """A run of 400 identifies at 300 ms each, stopped once 20 reached the emulator."""
    emu.configure(latency_ms=300)
    proc = target_processes.start_target(
        {**config, "max_concurrency": 4}, tmp_path / f"{name}.json"
    )
    assert proc.stdin is not None
    proc.stdin.write(target_processes.singer_lines(identify_rows(400)))
    proc.stdin.flush()
    deadline = time.monotonic() + 60
    while len(emu.calls(path="/v1/identify-user")) < 20:
        assert proc.poll() is None, "the target ended before the test could stop it"
        assert time.monotonic() < deadline, "the calls did not start"
        time.sleep(0.05)
    return proc


def test_sigterm_logs_an_interrupted_run_with_only_acknowledged_rows_applied(emu, config, tmp_path):
    proc = start_slow_run(emu, config, tmp_path, "term")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err[-2000:]
    time.sleep(0.2)  # let requests already on the wire land in the call log
    (run,) = runs(config)
    assert (run["status"], run["exit_code"]) == ("interrupted", 143)
    assert run["message"] == last_error_line(err).split("| ")[-1]
    assert run["message"].startswith("Interrupted by SIGTERM")
    logged = changes(config, run["run_id"])
    received = identified(emu)
    applied = {r["user_id"] for r in logged if r["outcome"] == "applied"}
    assert applied  # some rows were acknowledged before the signal
    assert applied == received  # the calls in flight finished and were logged, no more
    assert len(logged) == len(applied) < 400
    assert json.loads(run["streams"])["users"]["sent"] == len(applied)


def test_kill_9_leaves_a_running_run_that_the_next_run_marks_failed(emu, config, tmp_path):
    proc = start_slow_run(emu, config, tmp_path, "kill")
    proc.kill()
    proc.communicate(timeout=60)
    (killed,) = runs(config)
    assert (killed["status"], killed["finished_at"]) == ("running", None)
    received = identified(emu)
    logged = changes(config, killed["run_id"])
    assert {r["user_id"] for r in logged if r["outcome"] == "applied"} <= received

    emu.configure(latency_ms=0)
    result = run_target(config, identify_rows(3), tmp_path, "next")
    assert result.returncode == 0, result.stderr[-2000:]
    before, after = runs(config)
    assert before["run_id"] == killed["run_id"]
    assert before["status"] == "failed"
    assert before["seq"] > killed["seq"]  # rewritten: a tap reading by seq sees the change
    assert (after["status"], after["exit_code"]) == ("finished", 0)
    assert f"run {killed['run_id']} ended without finishing; marked failed" in result.stderr
    assert states_of(result.stdout) == [{"users": 3}]


def test_sync_log_false_writes_no_rows(emu, config, tmp_path):
    result = run_target({**config, "sync_log": False}, identify_rows(3), tmp_path, "off")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(emu.calls(path="/v1/identify-user")) == 3
    db = sqlite3.connect(ledger_file(config))
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table in {RUNS, CHANGELOG, SNAPSHOT} & tables:
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)  # noqa: S608
    finally:
        db.close()


def test_a_failed_run_is_logged_with_its_stop_line(config, tmp_path):
    messages = [
        schema("notes", ["id"], "id", "note"),
        record("notes", {"id": "u1", "note": TOO_LONG}),
    ]
    result = run_target({**config, "mappings": {"notes": {"user_id": "id"}}}, messages, tmp_path)
    assert result.returncode == 1
    (run,) = runs(config)
    assert (run["status"], run["exit_code"]) == ("failed", 1)
    assert "Every row of stream 'notes' (1 rows) was rejected" in run["message"]
    assert run["message"] == last_error_line(result.stderr).split("| ")[-1]


def test_a_run_refiner_stops_logs_the_failed_calls(emu, config, tmp_path):
    emu.fault(500, count=100, path="/v1/identify-user")
    result = run_target({**config, "max_tries": 1}, identify_rows(3), tmp_path, "failing")
    assert result.returncode == 1
    assert identified(emu) == set()
    (run,) = runs(config)
    assert (run["status"], run["exit_code"]) == ("failed", 1)
    assert run["message"] == last_error_line(result.stderr).split("| ")[-1]
    logged = changes(config, run["run_id"])
    assert logged  # the calls whose fate the stop left unknown
    assert {(r["action"], r["outcome"]) for r in logged} == {("identify", "failed")}
    assert all(r["message"] for r in logged)


def test_a_dry_run_logs_planned_calls(emu, config, tmp_path):
    result = run_target({**config, "dry_run": True}, identify_rows(3), tmp_path, "dry")
    assert result.returncode == 0, result.stderr[-2000:]
    assert identified(emu) == set()
    (run,) = runs(config)
    assert (run["status"], run["exit_code"]) == ("dry_run", 0)
    logged = changes(config, run["run_id"])
    assert sorted((r["user_id"], r["action"], r["outcome"]) for r in logged) == [
        (f"u{n}", "identify", "planned") for n in range(3)
    ]


def test_a_sync_log_that_cannot_be_written_stops_the_run_before_any_call(emu, config, tmp_path):
    first = run_target({**config, "sync_log": False}, identify_rows(3), tmp_path, "off")
    assert first.returncode == 0, first.stderr[-2000:]
    db = sqlite3.connect(ledger_file(config))
    db.execute(f"CREATE TABLE {RUNS} (something_else INTEGER)")  # not the sync log's table
    db.commit()
    db.close()
    seq = last_seq(emu)
    result = run_target(config, identify_rows(4), tmp_path, "on")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    line = last_error_line(result.stderr)
    assert "Cannot write the sync log (setting `sync_log`; false runs without it)" in line, line
    assert line.count("Cannot write the sync log") == 1, line
    assert [c for c in emu.calls(since_seq=seq) if c["path"] != "/v1/"] == []
    assert states_of(result.stdout) == []
