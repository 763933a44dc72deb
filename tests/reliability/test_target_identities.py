"""Identities are never merged by accident: events under a non-unique key, one person named by
id and by email, and one writer per ledger. Real target CLI, real emulator."""

from __future__ import annotations

import json
import re
import sqlite3
import time

from tests.reliability.target_processes import last_error_line, run_target, start_target, states_of


def schema(stream: str, keys: list[str]) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "key_properties": keys,
        "schema": {"type": "object", "properties": {}},
    }


def record(stream: str, row: dict) -> dict:
    return {"type": "RECORD", "stream": stream, "record": row}


def tracked(emu) -> list[tuple[str, str]]:
    return [(e["user_id"], e["event"]) for e in emu.events()]


def test_events_under_a_non_unique_key_are_all_sent_and_replays_are_skipped(emu, config, tmp_path):
    cfg = {
        **config,
        "mappings": {"events": {"action": "track", "user_id": "user_id", "event": "name"}},
    }
    rows = [
        schema("events", ["user_id"]),
        record("events", {"user_id": "u1", "name": "Signed Up"}),
        record("events", {"user_id": "u1", "name": "Upgraded"}),
        record("events", {"user_id": "u2", "name": "Signed Up"}),
        {"type": "STATE", "value": {"events": 3}},
    ]
    first = run_target(cfg, rows, tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert sorted(tracked(emu)) == [("u1", "Signed Up"), ("u1", "Upgraded"), ("u2", "Signed Up")]

    again = run_target(cfg, rows, tmp_path, name="again")
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(tracked(emu)) == 3  # an exact replay sends nothing
    summary = "Summary for stream 'events': 3 rows in, 0 sent, 0 skipped unchanged, 3 skipped as"
    assert re.search(summary + " replays", again.stderr)
    assert states_of(again.stdout)[-1] == {"events": 3}


def test_a_person_deleted_by_email_is_identified_again_by_id(emu, config, tmp_path):
    cfg = {
        **config,
        "mappings": {
            "users": {"action": "identify", "user_id": "id", "email": "email"},
            "gone": {"action": "delete_contact", "email": "email"},
        },
    }
    person = {"id": "p1", "email": "p1@example.com", "plan": "pro"}
    identify = [schema("users", ["id"]), record("users", person)]
    assert run_target(cfg, identify, tmp_path, name="1").returncode == 0
    assert emu.contact("p1") is not None

    delete = [schema("gone", ["email"]), record("gone", {"email": "p1@example.com"})]
    assert run_target(cfg, delete, tmp_path, name="2").returncode == 0
    assert emu.contact("p1") is None

    # the same identify row as before: the ledger must know the contact is gone
    result = run_target(cfg, identify, tmp_path, name="3")
    assert result.returncode == 0, result.stderr[-2000:]
    assert emu.contact("p1") is not None


def test_rows_naming_one_person_differently_keep_their_order(emu, config, tmp_path):
    emu.configure(latency_ms=100)
    cfg = {
        **config,
        "max_concurrency": 8,
        "mappings": {
            "users": {"action": "identify", "user_id": "id", "email": "email"},
            "gone": {"action": "delete_contact", "email": "email"},
        },
    }
    messages = [schema("users", ["id"]), schema("gone", ["email"])]
    for n in range(20):
        messages += [
            record("users", {"id": f"o{n}", "email": f"o{n}@example.com", "plan": "a"}),
            record("gone", {"email": f"o{n}@example.com"}),
            record("users", {"id": f"o{n}", "email": f"o{n}@example.com", "plan": "b"}),
        ]
    result = run_target(cfg, messages, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    for n in range(20):
        contact = emu.contact(f"o{n}")
        assert contact is not None, n  # the delete ran between the identifies, not after
        assert contact["attributes"]["plan"] == "b"


def test_a_second_target_on_the_same_ledger_refuses_or_waits(emu, config, tmp_path):
    emu.configure(latency_ms=200)
    holder = start_target(config, tmp_path / "holder.json")
    assert holder.stdin is not None
    holder.stdin.write(json.dumps(schema("users", ["id"])) + "\n")
    holder.stdin.write(json.dumps(record("users", {"id": "h1"})) + "\n")
    holder.stdin.flush()
    while emu.contact("h1") is None:
        time.sleep(0.05)

    rows = [schema("users", ["id"]), record("users", {"id": "second"})]
    refused = run_target(config, rows, tmp_path, name="refused")
    assert refused.returncode == 1
    line = last_error_line(refused.stderr)
    assert "is in use by another target-refiner" in line
    assert f"pid {holder.pid}" in line
    assert "started 20" in line
    assert emu.contact("second") is None

    waiting = start_target({**config, "ledger_wait_seconds": 60}, tmp_path / "w.json")
    time.sleep(0.5)
    assert waiting.poll() is None  # waiting for the holder, not failing
    _, holder_err = holder.communicate(timeout=60)
    assert holder.returncode == 0, holder_err[-2000:]
    _, waiting_err = waiting.communicate("".join(json.dumps(m) + "\n" for m in rows), timeout=120)
    assert waiting.returncode == 0, waiting_err[-2000:]
    assert emu.contact("second") is not None


def test_a_ledger_from_before_person_links_still_clears_a_deleted_person(emu, config, tmp_path):
    """Rows skipped as unchanged still record who they name, so a later delete by email
    finds the identify remembered under the user id."""
    cfg = {
        **config,
        "mappings": {
            "users": {"action": "identify", "user_id": "id", "email": "email"},
            "gone": {"action": "delete_contact", "email": "email"},
        },
    }
    identify = [schema("users", ["id"]), record("users", {"id": "q1", "email": "q1@x.io"})]
    assert run_target(cfg, identify, tmp_path, name="1").returncode == 0
    (ledger,) = (tmp_path / "state").glob("ledger-*.sqlite")
    with sqlite3.connect(ledger) as db:
        db.execute("DELETE FROM person")  # as an older version left it
    assert run_target(cfg, identify, tmp_path, name="2").returncode == 0  # unchanged: skipped
    delete = [schema("gone", ["email"]), record("gone", {"email": "q1@x.io"})]
    assert run_target(cfg, delete, tmp_path, name="3").returncode == 0
    assert emu.contact("q1") is None
    assert run_target(cfg, identify, tmp_path, name="4").returncode == 0
    assert emu.contact("q1") is not None
