"""Fixtures for target tests: a clean emulator per test and a config pointing at it."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def emu(emulator):
    """The session emulator, reset (data, config, calls, faults) for this test."""
    emulator.reset(data=True, config=True)
    emulator.configure(rate_limit=False, latency_ms=0, error_rate=0)
    yield emulator
    emulator.reset(config=True)


@pytest.fixture
def config(emu, tmp_path) -> dict[str, Any]:
    """A target config pointing at the emulator with a fresh state dir."""
    return {
        "api_key": emu.api_key,
        "api_url": emu.api_url,
        "state_dir": str(tmp_path / "state"),
        "progress_interval_seconds": 0,
    }
