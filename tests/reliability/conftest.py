"""End-to-end loss-path cases: real processes, assertions on what Refiner (the emulator) holds."""

from __future__ import annotations

import pytest


@pytest.fixture
def emu(emulator):
    """The session emulator, reset (data, config, calls, faults) for this test."""
    emulator.reset(data=True, config=True)
    yield emulator
    emulator.reset(config=True)


@pytest.fixture
def config(emu, tmp_path):
    """A target config pointing at the emulator with a fresh state dir."""
    return {
        "api_key": emu.api_key,
        "api_url": emu.api_url,
        "state_dir": str(tmp_path / "state"),
        "progress_interval_seconds": 0,
    }
