"""A pacing folder that cannot be used (a home that is a file, or a folder where a file is) does
not stop the tap, the target or `refiner-api`: each paces within its own process, says so in one
WARNING naming `pacing_dir`, and everything still reaches Refiner. Real processes, real emulator;
HOME points at a file and neither XDG_CACHE_HOME nor REFINER_PACING_DIR is set."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from refiner_http.schedule import PACING_DIR_ENV
from tests.reliability.tap_processes import records_of, sync
from tests.reliability.target_processes import run_target, states_of

WARNING = "Setting `pacing_dir`: the folder"


@pytest.fixture
def home_is_a_file(monkeypatch, tmp_path):
    """Every process the test starts gets HOME = a file (`~/.cache` cannot be made)."""
    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv(PACING_DIR_ENV, raising=False)
    return home


def pacing_warnings(stderr: str, home) -> list[str]:
    lines = [line for line in stderr.splitlines() if WARNING in line]
    assert all(f"{home}/.cache/refiner-singer/pacing" in line for line in lines)
    assert all("no longer shared" in line for line in lines)
    return lines


def test_the_target_paces_on_its_own_and_sends_everything(emu, config, tmp_path, home_is_a_file):
    messages = [
        {
            "type": "SCHEMA",
            "stream": "users",
            "key_properties": ["id"],
            "schema": {"properties": {"id": {}}},
        },
        *({"type": "RECORD", "stream": "users", "record": {"id": f"p{n}"}} for n in range(5)),
        {"type": "STATE", "value": {"users": 5}},
    ]
    result = run_target(config, messages, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert len(pacing_warnings(result.stderr, home_is_a_file)) == 1
    sent = {c["params"]["id"] for c in emu.calls(path="/v1/identify-user") if c["status"] == 200}
    assert sent == {f"p{n}" for n in range(5)}
    assert states_of(result.stdout) == [{"users": 5}]


def test_the_tap_paces_on_its_own_and_reads_everything(emu, tmp_path, home_is_a_file):
    config = {"api_key": emu.api_key, "api_url": emu.api_url}
    result = sync(config, ["segments"], tmp_path / "tap")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert len(pacing_warnings(result.stderr, home_is_a_file)) == 1
    assert len(records_of(result.stdout)["segments"]) == len(emu.api.items("/segments"))


def test_refiner_api_paces_on_its_own(emu, tmp_path, home_is_a_file):
    env_config = tmp_path / "api.json"
    env_config.write_text(json.dumps({"api_key": emu.api_key, "api_url": emu.api_url}))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "refiner_api.cli",
            "--config",
            str(env_config),
            "GET",
            "/v1/segments",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(pacing_warnings(result.stderr, home_is_a_file)) == 1
    assert json.loads(result.stdout)["items"]
