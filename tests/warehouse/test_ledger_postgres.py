"""`ledger_url`: the ledger in PostgreSQL, for runners whose disk starts empty every time.

Real target processes with fresh HOMEs and empty `state_dir`s, a real emulator, the suite's real
PostgreSQL; assertions on the calls the emulator received, exit codes and the database.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from refiner_emulator.testing import EmulatorProcess
from target_refiner.ledger.keys import (
    DELETED,
    MEMBER,
    LedgerWrite,
    deleted_key,
    identify_key,
    segment_key,
    track_key,
)
from target_refiner.ledger.postgres import PostgresLedger
from target_refiner.ledger.sqlite import Ledger
from target_refiner.sync_log.sql import compact_json
from tests.reliability.target_processes import last_error_line, run_target, start_target, states_of
from tests.reliability.test_ledger_identity import last_seq, writes
from tests.warehouse.postgres_server import EmbeddedPostgres
from tests.warehouse.test_sync_log_postgres import comparable

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
    logged = sync_log_of(ledger_file)
    copy = move_in(ledger_file, url)
    assert copy.returncode == 0, copy.stderr
    assert (
        f"Copied {USERS + 50} ledger entries and {len(logged['changes'])} sync-log" in copy.stdout
    )
    assert warehouse.server.password not in copy.stdout + copy.stderr
    # The history moved with the ledger: the same runs, changes (in order) and snapshot.
    assert sync_log_of_postgres(warehouse) == logged
    again = move_in(ledger_file, url)
    assert "and 0 sync-log changes" in again.stdout, again.stderr
    assert sync_log_of_postgres(warehouse) == logged

    moved = run_target(machine(tmp_path, "runner", emu, warehouse.url), rows(), tmp_path, "pg")
    assert moved.returncode == 0, moved.stderr[-2000:]
    assert writes(emu, seen) == {"identify": 0, "track": 0}
    after = sync_log_of_postgres(warehouse)
    assert after["changes"][: len(logged["changes"])] == logged["changes"]
    assert {c[6] for c in after["changes"][len(logged["changes"]) :]} == {"unchanged", "replay"}


def move_in(ledger_file: Path, url: str) -> subprocess.CompletedProcess[str]:
    """``python -m target_refiner.ledger.to_postgres --from FILE --to URL``."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "target_refiner.ledger.to_postgres",
            "--from",
            ledger_file,
            "--to",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ,
    )


#: The sync log's rows but their ``seq`` (each store's own numbering), each table's in order
#: (the snapshot's sorted after reading: the two databases' text collations may differ).
_RUN = "project, run_id, started_at, finished_at, status, exit_code, streams, settings_fingerprint"
_CHANGE = "project, run_id, logged_at, stream, row_key, user_id, action, outcome, http_status"
SYNC_LOG_ROWS = {
    "runs": f"SELECT {_RUN} FROM refiner_sync_runs ORDER BY run_id",  # noqa: S608 - constant
    "changes": f"SELECT {_CHANGE} FROM refiner_sync_changelog ORDER BY seq",  # noqa: S608
    "snapshot": f"SELECT {_CHANGE} FROM refiner_sync_snapshot",  # noqa: S608 - constant
}


def sync_log_of(path: Path) -> dict[str, list[tuple]]:
    """The file's sync log, ``row_key`` as ``comparable`` writes jsonb (compact, sorted)."""
    with closing(sqlite3.connect(path)) as db:
        got = {name: db.execute(sql).fetchall() for name, sql in SYNC_LOG_ROWS.items()}
    for name in ("changes", "snapshot"):
        got[name] = [(*r[:4], compact_json(json.loads(r[4])), *r[5:]) for r in got[name]]
    got["snapshot"].sort()
    return got


def sync_log_of_postgres(warehouse) -> dict[str, list[tuple]]:
    got = {
        name: [tuple(map(comparable, row)) for row in warehouse.rows(sql)]
        for name, sql in SYNC_LOG_ROWS.items()
    }
    got["snapshot"].sort()
    return got


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


@pytest.fixture
def own_postgres():
    """A server this test may stop (the session's is shared with every other test)."""
    with EmbeddedPostgres() as server:
        yield server


@pytest.fixture(scope="module")
def slow_emulator():
    with EmulatorProcess("--contacts", "0", "--responses", "0", "--latency-ms", "30") as emu:
        yield emu


def events_then_users(users: int, every: int = 100) -> list[dict]:
    """50 events, a STATE, then users with a STATE after every ``every`` of them."""
    head = rows(0, 50)[:-1]
    users_schema = {"properties": {"id": {"type": "string"}, "plan": {"type": "string"}}}
    out = [*head, {"type": "STATE", "value": {"done": 0}}]
    out.append(
        {"type": "SCHEMA", "stream": "users", "key_properties": ["id"], "schema": users_schema}
    )
    for n in range(users):
        out.append({"type": "RECORD", "stream": "users", "record": {"id": f"u{n}", "plan": "pro"}})
        if (n + 1) % every == 0:
            out.append({"type": "STATE", "value": {"done": n + 1}})
    return out


def wait_for(predicate, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_postgres_lost_mid_run_stops_and_the_next_run_converges(
    slow_emulator, own_postgres, tmp_path
):
    emu = slow_emulator
    emu.reset(data=True, config=True)
    url = own_postgres.url("postgres")
    users = 3000
    lines = events_then_users(users)
    config = {**machine(tmp_path, "first", emu, url), "max_concurrency": 16}
    target = start_target(config, tmp_path / "first.json")
    target.stdin.write("".join(json.dumps(m) + "\n" for m in lines))
    target.stdin.close()
    wait_for(lambda: writes(emu)["identify"] >= 300)
    own_postgres.crash()
    assert target.wait(timeout=120) == 1
    out, err = target.stdout.read(), target.stderr.read()
    for stream in (target.stdout, target.stderr):
        stream.close()
    assert writes(emu)["identify"] < users  # it stopped mid-run
    assert "ledger_url" in last_error_line(err)
    assert "Traceback" not in err
    assert own_postgres.password not in err
    own_postgres.restart()
    # No STATE past what was committed: every user before the last STATE has its entry.
    done = states_of(out)[-1]["done"]
    with psycopg.connect(url) as db:
        found = db.execute("SELECT user_key FROM refiner_ledger WHERE kind = 'identify'")
        committed = {key for (key,) in found}
    assert {f"id:u{n}" for n in range(done)} <= committed
    seen = last_seq(emu)
    again = run_target({**config, "state_dir": str(tmp_path / "second")}, lines, tmp_path, "b")
    assert again.returncode == 0, again.stderr[-2000:]
    assert states_of(again.stdout)[-1] == {"done": users}
    # Converged: every user identified; the events (committed before the loss) never again.
    identified = {
        c["params"].get("id")
        for c in emu.calls()
        if c["path"] == "/v1/identify-user" and c["status"] == 200
    }
    assert identified == {f"u{n}" for n in range(users)}
    assert writes(emu, seen)["track"] == 0
    assert writes(emu)["track"] == 50
    # What was re-sent is at most what was in flight or not yet committed at the loss.
    assert writes(emu, seen)["identify"] <= users - len(committed) + 16


def test_a_wrong_password_stops_with_one_masked_line(emu, warehouse, tmp_path):
    wrong = warehouse.url.replace(warehouse.server.password, "not-the-password-9")
    result = run_target(machine(tmp_path, "m", emu, wrong), rows(3, 0), tmp_path)
    assert result.returncode == 1
    line = last_error_line(result.stderr)
    assert "Setting `ledger_url` postgresql://postgres:***@" in line
    assert "not-the-password-9" not in result.stderr
    assert "Traceback" not in result.stderr
    assert writes(emu) == {"identify": 0, "track": 0}


def test_a_ledger_url_that_is_not_postgres_is_refused(emu, tmp_path):
    result = run_target(machine(tmp_path, "m", emu, "sqlite:///x.db"), rows(3, 0), tmp_path)
    assert result.returncode == 1
    assert "`ledger_url` must be a PostgreSQL URL" in result.stderr
    assert writes(emu) == {"identify": 0, "track": 0}


def test_ledger_wait_seconds_waits_for_the_holder(emu, warehouse, tmp_path):
    holder = start_target(machine(tmp_path, "holder", emu, warehouse.url), tmp_path / "h.json")
    wait_for(lambda: holder.poll() is None and bool(_holders(warehouse)))
    waiting = start_target(
        {**machine(tmp_path, "waiting", emu, warehouse.url), "ledger_wait_seconds": 60},
        tmp_path / "w.json",
    )
    waiting.stdin.write("".join(json.dumps(m) + "\n" for m in rows(3, 0)))
    waiting.stdin.close()
    time.sleep(2)
    assert waiting.poll() is None  # still waiting for the holder
    holder.stdin.write("".join(json.dumps(m) + "\n" for m in rows(3, 0)))
    holder.stdin.close()
    assert holder.wait(timeout=60) == 0
    assert waiting.wait(timeout=60) == 0, waiting.stderr.read()
    for process in (holder, waiting):
        process.stdout.close()
        process.stderr.close()
    assert writes(emu) == {"identify": 3, "track": 0}  # the second found them all sent
