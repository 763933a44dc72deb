"""A tap run that stops for a known reason says so in one line and exits 1, never a traceback.

Real ``tap-refiner`` processes against the emulator (or a proxy in front of it that answers
what the emulator never would, like an HTML page with 200).
"""

from __future__ import annotations

import json
import signal
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from tests.reliability.tap_processes import TAP, command, records_of, states_of, sync
from tests.reliability.target_processes import BreakingProxy

if TYPE_CHECKING:
    from pathlib import Path

BAD_KEY = "not-a-key-7f3c9e"


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line]


def assert_one_line_stop(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 1, no traceback, exactly one ERROR line, and it says each of ``needles``."""
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = error_lines(result.stderr)
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def run_plain(config: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The tap with every stream selected (no catalog), as a first try by hand would run it."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [TAP, "--config", str(path)], capture_output=True, text=True, timeout=300, check=False
    )


def test_an_answer_that_is_not_json_is_one_line_naming_the_endpoint(emulator, tmp_path):
    def html(_method, path, _n):
        if path == "/v1/segments":
            return 200, "text/html", "<html><body>Please log in</body></html>"
        return None

    with BreakingProxy(emulator.base_url, html) as proxy:
        config = {"api_key": emulator.api_key, "api_url": proxy.url + "/v1"}
        result = sync(config, ["segments"], tmp_path / "tap")
    assert_one_line_stop(result, "/v1/segments", "not JSON")
    assert "segments" not in records_of(result.stdout)


def test_a_wrong_key_is_one_line_with_the_hint_and_never_the_key(emulator, tmp_path):
    result = run_plain({"api_key": BAD_KEY, "api_url": emulator.api_url}, tmp_path)
    assert_one_line_stop(result, "API key not valid or does not exist", "`api_key`")
    assert BAD_KEY not in result.stderr + result.stdout


def test_broken_paging_is_one_line(emulator, tmp_path):
    def loop(_method, path, n):
        if path != "/v1/segments":
            return None
        body = {
            "items": [{"uuid": f"s-{n}", "name": "Loop"}],
            "pagination": {"next_page_cursor": "c"},
        }
        return 200, "application/json", json.dumps(body)

    with BreakingProxy(emulator.base_url, loop) as proxy:
        config = {"api_key": emulator.api_key, "api_url": proxy.url + "/v1"}
        result = sync(config, ["segments"], tmp_path / "tap")
    assert_one_line_stop(result, "Paging /segments", "already returned")


def test_retries_exhausted_is_one_line_naming_the_endpoint_and_setting(emu, tmp_path):
    emu.fault(503, count=10, path="/v1/segments")
    config = {"api_key": emu.api_key, "api_url": emu.api_url, "max_tries": 2}
    result = sync(config, ["segments"], tmp_path / "tap")
    assert_one_line_stop(result, "503", "/v1/segments", "`max_tries`")
    assert len(emu.calls(path="/v1/segments")) == 2


def test_a_settings_error_is_one_line_naming_the_setting(emulator, tmp_path):
    config = {"api_key": emulator.api_key, "api_url": emulator.api_url, "start_date": "soon"}
    result = run_plain(config, tmp_path)
    assert_one_line_stop(result, "Invalid configuration", "`start_date`")
    assert result.stdout == ""


def test_a_missing_webhook_store_is_one_line_naming_the_setting(emulator, tmp_path):
    missing = tmp_path / "nope" / "events.sqlite"
    config = {"api_key": emulator.api_key, "api_url": emulator.api_url}
    result = sync({**config, "webhook_store": str(missing)}, ["webhook_events"], tmp_path / "tap")
    assert_one_line_stop(result, "Setting `webhook_store`", str(missing))
    assert "webhook_events" not in records_of(result.stdout)


# -- SIGTERM / SIGINT -------------------------------------------------------------------------
RESPONSES = {"start_date": "2026-02-01T00:00:00Z", "responses_window_days": 5}


def bookmark(state: dict[str, Any], stream: str = "responses") -> str | None:
    return state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")


def interrupted_run(emu, tmp_path: Path, signum: int) -> tuple[int, str]:
    """Start a slow run, signal it once a window's STATE is out; its exit code and stdout."""
    emu.configure(latency_ms=120)
    config = {"api_key": emu.api_key, "api_url": emu.api_url, **RESPONSES}
    argv = command({**config, "max_concurrent_requests": 2}, ["responses"], tmp_path / "slow")
    lines: list[str] = []
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as tap:
        assert tap.stdout is not None
        for line in tap.stdout:
            lines.append(line)
            message = json.loads(line)
            if message["type"] == "STATE" and bookmark(message["value"]):
                tap.send_signal(signum)
                break
        lines.extend(tap.stdout)
        code = tap.wait(timeout=120)
    emu.configure(latency_ms=0)
    return code, "".join(lines)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_tap_with_its_code_and_a_state_that_loses_nothing(
    emu, tmp_path, signum, code
):
    config = {"api_key": emu.api_key, "api_url": emu.api_url, **RESPONSES}
    full = sync(config, ["responses"], tmp_path / "full")
    assert full.returncode == 0, full.stderr[-2000:]
    expected = {r["uuid"]: r for r in records_of(full.stdout)["responses"]}

    exit_code, stdout = interrupted_run(emu, tmp_path, signum)
    assert exit_code == code
    last = states_of(stdout)[-1]
    stopped_at = bookmark(last)
    assert stopped_at is not None
    assert stopped_at < bookmark(states_of(full.stdout)[-1])  # it really stopped mid-way
    read = {r["uuid"] for r in records_of(stdout).get("responses", [])}
    covered = {u for u, r in expected.items() if r["last_data_reception_at"] < stopped_at}
    assert covered <= read  # the last STATE claims nothing that was not written

    resumed = sync({**config, "responses_lookback_hours": 0}, ["responses"], tmp_path / "r", last)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    again = {r["uuid"] for r in records_of(resumed.stdout)["responses"]}
    assert set(expected) <= read | again  # nothing lost
