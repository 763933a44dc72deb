"""Real Meltano pipelines against an emulator (+ webhook receiver) started by the test.

Both directions run twice: the second Refiner -> DuckDB run must only bring the new data, the
second reverse sync must make no write call at all.
"""

from __future__ import annotations

import hashlib
import json

import duckdb
import pytest

from tests.meltano.meltano_helpers import summary_counts, tap_summary_records

pytestmark = pytest.mark.meltano

MAIN_TABLES = (
    "contacts",
    "segment_memberships",
    "responses",
    "answers",
    "forms",
    "questions",
    "segments",
    "account",
    "reports",
)
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def table_counts(path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        names = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'refiner'"
            ).fetchall()
        ]
        return {
            name: con.execute(f'SELECT count(*) FROM refiner."{name}"').fetchone()[0]  # noqa: S608 - catalog names
            for name in names
        }


def scalar(path, sql: str, *params):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, list(params)).fetchone()[0]


def last_seq(emulator) -> int:
    calls = emulator.calls()
    return calls[-1]["seq"] if calls else 0


def writes_since(emulator, seq: int) -> list[dict]:
    return [c for c in emulator.calls(since_seq=seq) if c["method"] in WRITE_METHODS]


def test_refiner_to_duckdb_twice_second_run_is_incremental(
    meltano_project, refiner_stack, tmp_path
):
    stack = refiner_stack
    stack.wait_for_webhooks(0)
    webhooks = stack.trigger_webhooks("user-meltano-1")
    stack.wait_for_webhooks(webhooks)
    warehouse = tmp_path / "warehouse.duckdb"
    env = {
        "TAP_REFINER_API_URL": stack.emulator.api_url,
        "TAP_REFINER_WEBHOOK_STORE": str(stack.store),
        "TAP_REFINER_MAX_TRIES": "3",
        "TARGET_DUCKDB_FILEPATH": str(warehouse),
    }
    run = meltano_project.run("--environment=demo", "run", "tap-refiner", "target-duckdb", env=env)

    first = table_counts(warehouse)
    for table in MAIN_TABLES:
        assert first.get(table, 0) > 0, f"{table} is empty: {first}"
    # The tap's closing summary names each stream in Meltano's log too (METRIC tags do not).
    summary = tap_summary_records(run.stdout + run.stderr)
    for table in (*MAIN_TABLES, "webhook_events"):
        assert summary.get(table) == first[table], (table, summary, first)
    assert first["contacts"] == stack.emulator.stats()["contacts"]
    assert first["account"] == 1
    assert first["webhook_events"] == webhooks
    event_types = {
        row[0]
        for row in duckdb.connect(str(warehouse), read_only=True)
        .execute("SELECT DISTINCT event_type FROM refiner.webhook_events")
        .fetchall()
    }
    assert len(event_types) == 3, event_types
    first_batch_end = scalar(warehouse, "SELECT max(_sdc_batched_at) FROM refiner.responses")

    # Between the runs: one new response (and its webhook).
    new_uuid = stack.post_response("user-meltano-2", 3)
    stack.wait_for_webhooks(webhooks + 1)
    meltano_project.run("--environment=demo", "run", "tap-refiner", "target-duckdb", env=env)

    second = table_counts(warehouse)
    assert second["responses"] == first["responses"] + 1
    assert second["answers"] > first["answers"]
    assert second["webhook_events"] == webhooks + 1
    assert second["contacts"] == first["contacts"] + 1  # user-meltano-2 is new
    found = scalar(warehouse, "SELECT count(*) FROM refiner.responses WHERE uuid = ?", new_uuid)
    assert found == 1
    # Rows the second run wrote (new or re-read within the lookback): few, not the whole table.
    touched = scalar(
        warehouse,
        "SELECT count(*) FROM refiner.responses WHERE _sdc_batched_at > ?",
        first_batch_end,
    )
    assert 1 <= touched <= max(10, first["responses"] // 10), (touched, first["responses"])
    state = meltano_project.run(
        "--environment=demo", "state", "get", "demo:tap-refiner-to-target-duckdb", env=env
    )
    bookmarks = json.loads(state.stdout)["singer_state"]["bookmarks"]
    assert {"responses", "answers", "webhook_events"} <= set(bookmarks)


def test_reverse_sync_twice_second_run_sends_nothing(meltano_project, refiner_stack, tmp_path):
    emulator = refiner_stack.emulator
    users_file = meltano_project.root / "demo" / "users.jsonl"
    users = [json.loads(line) for line in users_file.read_text().splitlines()]
    events = (meltano_project.root / "demo" / "events.jsonl").read_text().splitlines()
    env = {
        "TARGET_REFINER_API_URL": emulator.api_url,
        "TARGET_REFINER_STATE_DIR": str(tmp_path / "ledger"),
        "TARGET_REFINER_PROGRESS_INTERVAL_SECONDS": "0",
    }
    pairs = ("tap-jsonl--users", "target-refiner", "tap-jsonl--events", "target-refiner")

    seq = last_seq(emulator)
    meltano_project.run("--environment=demo", "run", *pairs, env=env)
    sent = writes_since(emulator, seq)
    by_path: dict[str, int] = {}
    for call in sent:
        by_path[call["path"]] = by_path.get(call["path"], 0) + 1
    assert by_path == {"/v1/identify-user": len(users), "/v1/track-event": len(events)}
    contact = emulator.contact(users[0]["id"])
    assert contact is not None
    assert contact["email"] == users[0]["email"]
    identify = next(c for c in sent if c["params"].get("id") == users[0]["id"])
    assert identify["params"]["account"]["id"] == users[0]["account_id"]
    assert not any(key.startswith("_sdc_") for key in identify["params"])

    # Second run, every row read again (--full-refresh ignores tap-jsonl's file bookmarks):
    # the target's ledger knows every payload was acknowledged, so nothing is written.
    seq = last_seq(emulator)
    again = meltano_project.run("--environment=demo", "run", "--full-refresh", *pairs, env=env)
    assert writes_since(emulator, seq) == []
    log = again.stdout + again.stderr
    assert summary_counts(log, "users") == {
        "in": len(users),
        "sent": 0,
        "skipped": len(users),
        "rejected": 0,
    }
    assert summary_counts(log, "events")["sent"] == 0

    # A changed user is the only call of the next run (tap-jsonl re-reads the changed file).
    original = users_file.read_text()
    try:
        users[2]["plan"] = "enterprise-" + hashlib.sha256(original.encode()).hexdigest()[:6]
        users_file.write_text("".join(json.dumps(u) + "\n" for u in users))
        seq = last_seq(emulator)
        meltano_project.run("--environment=demo", "run", *pairs, env=env)
        changed = writes_since(emulator, seq)
        assert [(c["path"], c["params"]["id"]) for c in changed] == [
            ("/v1/identify-user", users[2]["id"])
        ]
        assert changed[0]["params"]["plan"] == users[2]["plan"]
    finally:
        users_file.write_text(original)


def test_stream_maps_through_meltano_into_jsonl(meltano_project, refiner_stack, tmp_path):
    stack = refiner_stack
    env = {
        "TAP_REFINER_API_URL": stack.emulator.api_url,
        "TAP_REFINER__SELECT": json.dumps(["contacts.*"]),
        "TAP_REFINER_STREAM_MAPS": json.dumps(
            {"contacts": {"email_hash": "md5(email) if email else None", "email": "__NULL__"}}
        ),
        "TARGET_JSONL_DESTINATION_PATH": str(tmp_path),
    }
    meltano_project.run("--environment=demo", "run", "tap-refiner", "target-jsonl", env=env)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.jsonl"]
    rows = [json.loads(line) for line in (tmp_path / "contacts.jsonl").read_text().splitlines()]
    emails = {c["uuid"]: c["email"] for c in stack.client.items("/contacts")}
    assert len(rows) == len(emails)
    for row in rows:
        assert "email" not in row
        email = emails[row["uuid"]]
        expected = hashlib.md5(email.encode()).hexdigest() if email else None  # noqa: S324
        assert row["email_hash"] == expected
