"""Shared fixtures: one emulator subprocess per test session, reset between emulator tests."""

from __future__ import annotations

import pytest

from refiner_emulator.testing import EmulatorProcess

EMULATOR_SEED = 7
EMULATOR_ARGS = ("--seed", str(EMULATOR_SEED), "--contacts", "300", "--responses", "800")


@pytest.fixture(scope="session")
def httpserver_listen_address():
    """pytest-httpserver on 127.0.0.1 like the emulator: clients never resolve ``localhost``."""
    return ("127.0.0.1", 0)


@pytest.fixture(scope="session")
def emulator():
    """A running emulator (seed 7, 300 contacts, 800 responses) on a free port."""
    with EmulatorProcess(*EMULATOR_ARGS) as emu:
        yield emu


@pytest.fixture
def fresh_emulator(emulator):
    """The session emulator with data, config, calls, faults and rate windows reset."""
    emulator.reset(data=True, config=True)
    return emulator


@pytest.fixture
def emu_api(fresh_emulator):
    """The API client of a freshly reset emulator (``EmulatorProcess.api``)."""
    return fresh_emulator.api
