"""Fixtures of the tap tests: a freshly reset emulator and a patched time.sleep."""

from __future__ import annotations

import pytest


@pytest.fixture
def emu(fresh_emulator):
    """The session emulator, reset (data, config, calls, faults)."""
    return fresh_emulator


@pytest.fixture
def sleeps(monkeypatch):
    """Patch time.sleep (backoff and pacing) and record the waits requested."""
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    return waits
