"""429 / 5xx via emulator faults with time.sleep patched; bad keys stop at once, key unseen."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from refiner_http import RefinerAuthError
from refiner_http.errors import AUTH_HINT
from tap_refiner.tap import TapRefiner
from tests.tap.taprun import run_tap

BAD_KEY = "0c5b7c2e-4a31-11ee-be56-0242ac120002"


def test_429_waits_retry_after_then_completes(emu, sleeps):
    emu.fault(429, count=2, retry_after=9, path="/v1/contacts")
    run = run_tap(emu, ["contacts"], page_length=100)
    assert len(run.records("contacts")) == 300
    statuses = [c["status"] for c in emu.calls(path="/v1/contacts")]
    assert statuses[:3] == [429, 429, 200]
    backoff_waits = [w for w in sleeps if w >= 9]
    assert len(backoff_waits) >= 2
    assert all(9 <= w <= 9.9 for w in backoff_waits)  # Retry-After + <= 10% jitter


def test_5xx_burst_recovers_with_bounded_jittered_backoff(emu, sleeps):
    emu.fault(503, count=2, path="/v1/contacts")
    emu.fault(502, count=1, path="/v1/contacts")
    run = run_tap(emu, ["contacts"], page_length=100)
    assert len({r["uuid"] for r in run.records("contacts")}) == 300
    waits = [w for w in sleeps if w > 0.05]
    assert len(waits) == 3
    for attempt, wait in enumerate(waits, start=1):
        ceiling = 2.0 ** (attempt - 1)
        assert ceiling / 2 <= wait <= ceiling


@pytest.mark.usefixtures("sleeps")
def test_5xx_gives_up_after_max_tries(emu):
    emu.fault(500, count=20, path="/v1/segments")
    run = run_tap(emu, ["segments"], max_tries=4, expect_error=True)
    assert "500" in str(run.error)
    assert len(emu.calls(path="/v1/segments")) == 4


@pytest.mark.parametrize("status", [404, 400])
def test_unknown_key_stops_at_once_with_message_and_hint(emu, sleeps, status):
    emu.configure(unknown_key_status=status)
    config = {"api_key": BAD_KEY, "api_url": emu.api_url}
    tap = TapRefiner(config=config)
    for name, stream in tap.streams.items():
        stream.selected = name == "contacts"
    with pytest.raises(RefinerAuthError) as info:
        tap.sync_all()
    text = str(info.value)
    assert info.value.status == status
    assert "API key not valid or does not exist" in text
    assert AUTH_HINT in text
    assert BAD_KEY not in text
    assert len(emu.calls()) == 1  # no retries
    assert sleeps == []


def test_cli_bad_key_exits_nonzero_with_hint_and_no_key(emu, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"api_key": BAD_KEY, "api_url": emu.api_url}))
    result = subprocess.run(
        [sys.executable, "-m", "tap_refiner.tap", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    assert "API key not valid or does not exist" in result.stderr
    assert "Integrations > REST API" in result.stderr
    assert BAD_KEY not in result.stderr + result.stdout
    assert len(emu.calls()) == 1


def test_pacing_keeps_under_max_requests_per_minute(emu, monkeypatch):
    """With a tiny limit the tap asks to wait between requests instead of bursting."""
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    run_tap(emu, ["contacts"], page_length=30, max_requests_per_minute=60)
    assert len(emu.calls(path="/v1/contacts")) == 10
    assert sum(waits) >= 5  # ~1s per request after a burst of 4, minus headroom
