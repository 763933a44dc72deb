"""The ledger belongs to the Refiner project the key answers for, not to the key's spelling; a
ledger that cannot be read stops the run. Real target CLI, a real emulator serving two keys of
one project and a key of another, asserting on the calls it received."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import requests

from refiner_emulator.testing import EmulatorProcess
from tests.reliability.target_processes import last_error_line, run_target, states_of

KEY = "rotation-key-one"
ROTATED_KEY = "rotation-key-two"
OTHER_PROJECT_KEY = "other-project-key"


@pytest.fixture(scope="module")
def projects():
    """An emulator whose project has two keys (a rotation), plus a second project's key."""
    args = ["--contacts", "5", "--responses", "5", "--api-key", KEY, "--api-key", ROTATED_KEY]
    with EmulatorProcess(*args, "--other-project-key", OTHER_PROJECT_KEY, api_key=KEY) as emu:
        yield emu


@pytest.fixture
def emu(projects):
    projects.reset(data=True, config=True)
    return projects


@pytest.fixture
def config(emu, tmp_path):
    return {
        "api_key": KEY,
        "api_url": emu.api_url,
        "state_dir": str(tmp_path / "state"),
        "progress_interval_seconds": 0,
        "mappings": {"events": {"action": "track", "user_id": "user_id", "event": "name"}},
    }


ROWS = [
    {
        "type": "SCHEMA",
        "stream": "users",
        "key_properties": ["id"],
        "schema": {"type": "object", "properties": {"id": {"type": "string"}, "plan": {}}},
    },
    *(
        {"type": "RECORD", "stream": "users", "record": {"id": f"u{n}", "plan": "pro"}}
        for n in (1, 2, 3)
    ),
    {
        "type": "SCHEMA",
        "stream": "events",
        "key_properties": [],
        "schema": {"type": "object", "properties": {"user_id": {}, "name": {}}},
    },
    {"type": "RECORD", "stream": "events", "record": {"user_id": "u1", "name": "Signed Up"}},
    {"type": "RECORD", "stream": "events", "record": {"user_id": "u2", "name": "Signed Up"}},
    {"type": "STATE", "value": {"done": 5}},
]


def writes(emu, since: int = 0) -> dict[str, int]:
    """Successful identify and track calls after call number ``since``."""
    counts = {"identify": 0, "track": 0}
    for call in emu.calls(since_seq=since):
        if call["status"] == 200 and call["path"] in ("/v1/identify-user", "/v1/track-event"):
            counts["identify" if call["path"].endswith("user") else "track"] += 1
    return counts


def last_seq(emu) -> int:
    calls = emu.calls()
    return calls[-1]["seq"] if calls else 0


def project_uuid(emu, key: str = KEY) -> str:
    reply = requests.get(emu.api_url + "/", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    return str(reply.json()["project_uuid"])


def first_run(emu, cfg, tmp_path):
    result = run_target(cfg, ROWS, tmp_path, name="first")
    assert result.returncode == 0, result.stderr[-2000:]
    assert writes(emu) == {"identify": 3, "track": 2}
    return last_seq(emu)


def ledgers(cfg) -> list[str]:
    return sorted(p.name for p in Path(cfg["state_dir"]).glob("*.sqlite"))


def test_a_rotated_key_keeps_the_ledger(emu, config, tmp_path):
    seq = first_run(emu, config, tmp_path)
    again = run_target({**config, "api_key": ROTATED_KEY}, ROWS, tmp_path, name="rotated")
    assert again.returncode == 0, again.stderr[-2000:]
    assert writes(emu, seq) == {"identify": 0, "track": 0}
    assert states_of(again.stdout)[-1] == {"done": 5}
    assert ledgers(config) == [f"ledger-project-{project_uuid(emu)}.sqlite"]


def test_localhost_and_127_0_0_1_are_one_project(emu, config, tmp_path):
    seq = first_run(emu, config, tmp_path)
    localhost = emu.api_url.replace("127.0.0.1", "localhost")
    again = run_target({**config, "api_url": localhost}, ROWS, tmp_path, name="localhost")
    assert again.returncode == 0, again.stderr[-2000:]
    assert writes(emu, seq) == {"identify": 0, "track": 0}


def test_another_project_has_a_ledger_of_its_own(emu, config, tmp_path):
    seq = first_run(emu, config, tmp_path)
    other = run_target({**config, "api_key": OTHER_PROJECT_KEY}, ROWS, tmp_path, name="other")
    assert other.returncode == 0, other.stderr[-2000:]
    assert writes(emu, seq) == {"identify": 3, "track": 2}
    assert len(ledgers(config)) == 2
    assert project_uuid(emu, OTHER_PROJECT_KEY) != project_uuid(emu)


def test_a_ledger_of_the_older_naming_is_adopted(emu, config, tmp_path):
    """A ledger named by URL + key (as before) is renamed, recorded, and nothing is re-sent."""
    emu.configure(key_check_without_project=True)
    legacy_run = run_target(config, ROWS, tmp_path, name="legacy")
    assert legacy_run.returncode == 0, legacy_run.stderr[-2000:]
    assert "rotating the key or writing `api_url` differently starts a new ledger" in (
        legacy_run.stderr
    )
    [legacy] = ledgers(config)
    assert not legacy.startswith("ledger-project-")
    db = sqlite3.connect(f"{config['state_dir']}/{legacy}")
    db.execute("DROP TABLE meta")  # exactly the file the version before wrote
    db.close()
    seq = last_seq(emu)
    emu.configure(key_check_without_project=False)

    adopted = run_target(config, ROWS, tmp_path, name="adopted")
    assert adopted.returncode == 0, adopted.stderr[-2000:]
    assert writes(emu, seq) == {"identify": 0, "track": 0}
    uuid = project_uuid(emu)
    assert ledgers(config) == [f"ledger-project-{uuid}.sqlite"]
    db = sqlite3.connect(f"{config['state_dir']}/ledger-project-{uuid}.sqlite")
    assert db.execute("SELECT value FROM meta WHERE name='project_uuid'").fetchall() == [(uuid,)]
    db.close()
    rotated = run_target({**config, "api_key": ROTATED_KEY}, ROWS, tmp_path, name="rotated")
    assert rotated.returncode == 0, rotated.stderr[-2000:]
    assert writes(emu, seq) == {"identify": 0, "track": 0}


@pytest.mark.parametrize("damage", ["garbage", "truncated", "emptied"])
def test_an_unreadable_ledger_stops_before_any_call(emu, config, tmp_path, damage):
    first_run(emu, config, tmp_path)
    path = tmp_path / "state" / f"ledger-project-{project_uuid(emu)}.sqlite"
    if damage == "garbage":
        path.write_bytes(b"this is not a database, just bytes\n" * 200)
    elif damage == "emptied":
        path.write_bytes(b"")
    else:
        data = path.read_bytes()
        assert len(data) > 8192
        path.write_bytes(data[: len(data) // 2])
    emu.reset(data=True)
    result = run_target(config, ROWS, tmp_path, name="damaged")
    assert result.returncode == 1
    line = last_error_line(result.stderr)
    assert f"The ledger {path} cannot be read" in line
    assert "move it aside to start over knowingly" in line
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert [c["path"] for c in emu.calls()] == ["/v1/"]  # the key check, nothing else


def test_a_state_dir_that_is_a_file_stops_with_one_line(emu, config, tmp_path):
    blocker = tmp_path / "state"
    blocker.write_text("not a folder")
    result = run_target(config, ROWS, tmp_path)
    assert result.returncode == 1
    line = last_error_line(result.stderr)
    assert f"{blocker}/ledger-project-" in line
    assert "setting `state_dir` must be a folder this user can write" in line
    assert "Traceback" not in result.stderr
    assert [c["path"] for c in emu.calls()] == ["/v1/"]
