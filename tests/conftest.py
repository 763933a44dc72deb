"""Shared fixtures: one emulator subprocess per test session, reset between emulator tests."""

from __future__ import annotations

import pytest

from refiner_emulator.testing import EmulatorProcess
from refiner_http.schedule import PACING_DIR_ENV

EMULATOR_SEED = 7
EMULATOR_ARGS = ("--seed", str(EMULATOR_SEED), "--contacts", "300", "--responses", "800")


@pytest.fixture(autouse=True)
def own_pacing_schedule(monkeypatch, tmp_path_factory):
    """Each test (and every process it starts) books from a pacing schedule of its own.

    The schedule is shared by every process using one URL and key, as in production; tests that
    patch ``time.sleep`` book slots and 429 holds they never wait out, which must not reach the
    next test on the same emulator.
    """
    monkeypatch.setenv(PACING_DIR_ENV, str(tmp_path_factory.mktemp("pacing")))


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
