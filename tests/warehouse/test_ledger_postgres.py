"""`ledger_url`: the ledger in PostgreSQL, for runners whose disk starts empty every time.

Real target processes with fresh HOMEs and empty `state_dir`s, a real emulator, the suite's real
PostgreSQL; assertions on the calls the emulator received, exit codes and the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from refiner_emulator.testing import EmulatorProcess
from target_refiner.ledger import (
    DELETED,
    MEMBER,
    Ledger,
    LedgerWrite,
    deleted_key,
    identify_key,
    segment_key,
    track_key,
)
from target_refiner.ledger_postgres import PostgresLedger
from tests.reliability.target_processes import run_target, start_target, states_of
from tests.reliability.test_ledger_identity import last_seq, writes

USERS = 1000


@pytest.fixture(scope="module")
def emulator():
    with EmulatorProcess("--contacts", "0", "--responses", "0") as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    emulator.reset(data=True, config=True)
    return emulator


def machine(tmp_path: Path, name: str, emu, url: str | None) -> dict:
    """A runner of its own: a fresh HOME (its pacing folder) and an empty state_dir."""
    home = tmp_path / name / "home"
    home.mkdir(parents=True)
    config = {
        "api_key": emu.api_key,
        "api_url": emu.api_url,
        "state_dir": str(tmp_path / name / "state"),
        "pacing_dir": str(home / "pacing"),
        "max_requests_per_minute": 100000,
        "progress_interval_seconds": 0,
        "mappings": {"events": {"action": "track", "user_id": "user_id", "event": "name"}},
    }
    if url:
        config["ledger_url"] = url
    return config


def rows(users: int = USERS, events: int = 50) -> list[dict]:
    users_schema = {"properties": {"id": {"type": "string"}, "plan": {"type": "string"}}}
    events_schema = {"properties": {"user_id": {}, "name": {}, "at": {}}}
    return [
        {"type": "SCHEMA", "stream": "users", "key_properties": ["id"], "schema": users_schema},
        *(
            {"type": "RECORD", "stream": "users", "record": {"id": f"u{n}", "plan": "pro"}}
            for n in range(users)
        ),
        {"type": "SCHEMA", "stream": "events", "key_properties": [], "schema": events_schema},
        *(
            {"type": "RECORD", "stream": "events", "record": {"user_id": f"u{n}", "name": "Paid"}}
            for n in range(events)
        ),
        {"type": "STATE", "value": {"done": users}},
    ]


def test_ephemeral_runners_share_the_ledger(emu, warehouse, tmp_path):
    first = run_target(machine(tmp_path, "first", emu, warehouse.url), rows(), tmp_path, "a")
    assert first.returncode == 0, first.stderr[-2000:]
    assert writes(emu) == {"identify": USERS, "track": 50}
    seen = last_seq(emu)
    second = run_target(machine(tmp_path, "second", emu, warehouse.url), rows(), tmp_path, "b")
    assert second.returncode == 0, second.stderr[-2000:]
    assert writes(emu, seen) == {"identify": 0, "track": 0}
    assert states_of(second.stdout)[-1] == {"done": USERS}
    # Nothing of the ledger on either runner's disk; the password never reached a log.
    for name in ("first", "second"):
        assert not list((tmp_path / name / "state").glob("*.sqlite"))
    assert warehouse.server.password not in first.stderr + second.stderr
    assert warehouse.scalar("SELECT count(*) FROM refiner_ledger") == USERS + 50


def test_a_second_target_refuses_and_a_killed_holder_frees_the_ledger(emu, warehouse, tmp_path):
    holder = start_target(machine(tmp_path, "holder", emu, warehouse.url), tmp_path / "h.json")
    try:
        deadline = time.monotonic() + 60
        while not _holders(warehouse):
            assert holder.poll() is None, holder.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        refused = run_target(machine(tmp_path, "second", emu, warehouse.url), rows(3, 0), tmp_path)
        assert refused.returncode == 1
        assert f"pid {holder.pid}" in refused.stderr
        assert "is in use by another target-refiner" in refused.stderr
        assert writes(emu) == {"identify": 0, "track": 0}
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        for stream in (holder.stdin, holder.stdout, holder.stderr):
            stream.close()
    started = time.monotonic()
    after = run_target(machine(tmp_path, "third", emu, warehouse.url), rows(3, 0), tmp_path, "c")
    assert after.returncode == 0, after.stderr[-2000:]
    assert time.monotonic() - started < 30
    assert writes(emu) == {"identify": 3, "track": 0}


def _holders(warehouse) -> list[tuple]:
    try:
        return warehouse.rows("SELECT pid FROM refiner_ledger_holders")
    except Exception:  # noqa: BLE001 - the table appears with the holder's first connection
        return []


def test_a_sqlite_ledger_copied_in_sends_nothing_again(emu, warehouse, tmp_path):
    local = machine(tmp_path, "local", emu, None)
    first = run_target(local, rows(), tmp_path, "local")
    assert first.returncode == 0, first.stderr[-2000:]
    (ledger_file,) = Path(local["state_dir"]).glob("ledger-project-*.sqlite")
    seen, url = last_seq(emu), warehouse.url
    copy = subprocess.run(
        [sys.executable, "-m", "target_refiner.ledger_copy", "--from", ledger_file, "--to", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ,
    )
    assert copy.returncode == 0, copy.stderr
    assert f"Copied {USERS + 50} ledger entries" in copy.stdout
    assert warehouse.server.password not in copy.stdout + copy.stderr
    moved = run_target(machine(tmp_path, "runner", emu, warehouse.url), rows(), tmp_path, "pg")
    assert moved.returncode == 0, moved.stderr[-2000:]
    assert writes(emu, seen) == {"identify": 0, "track": 0}


def test_postgres_and_sqlite_ledgers_mean_the_same(warehouse, tmp_path):
    """The same acknowledged calls, applied to both ledgers, leave the same answers."""
    batches = [
        [
            LedgerWrite(identify_key("p1"), "h1", "p1", (("id:1", "p1"), ("email:a@x", "p1"))),
            LedgerWrite(segment_key("p1", "seg"), MEMBER, "p1"),
            LedgerWrite(track_key("e1", "events"), "sent", "p1"),
            LedgerWrite(identify_key("p2"), "h2", "p2", (("id:2", "p2"),)),
        ],
        [LedgerWrite(deleted_key("p1"), DELETED, "p1")],
        [LedgerWrite(identify_key("p2"), "h3", "p2")],
    ]
    keys = [
        identify_key("p1"),
        segment_key("p1", "seg"),
        deleted_key("p1"),
        track_key("e1", "events"),
        identify_key("p2"),
        identify_key("p3"),
    ]
    sqlite = Ledger(tmp_path / "l.sqlite", project="proj")
    pg = PostgresLedger(warehouse.url, "proj")
    other = PostgresLedger(warehouse.url, "another-project")
    try:
        for batch in batches:
            sqlite.commit(batch)
            pg.commit(batch)
        assert pg.lookup_entries(keys) == sqlite.lookup_entries(keys)
        assert pg.lookup_people(["id:1", "id:2", "id:9"]) == {"id:1": "p1", "id:2": "p2"}
        sqlite.merge_people("p2", ["p1"])
        pg.merge_people("p2", ["p1"])
        assert pg.lookup_entries(keys) == sqlite.lookup_entries(keys)
        assert pg.lookup_people(["id:1", "email:a@x"]) == sqlite.lookup_people(
            ["id:1", "email:a@x"]
        )
        assert pg.count() == sqlite.count()
        assert other.count() == 0  # rows carry the project
        assert other.lookup_people(["id:1"]) == {}
    finally:
        sqlite.close()
        pg.close()
        other.close()
