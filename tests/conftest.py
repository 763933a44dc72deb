"""Shared fixtures: one emulator subprocess per test session, reset between emulator tests."""

from __future__ import annotations

import pytest
import requests

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


class ApiClient:
    """Tiny requests wrapper: Bearer auth by default, absolute API paths like ``/contacts``."""

    def __init__(self, emu: EmulatorProcess) -> None:
        self.emu = emu
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {emu.api_key}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.emu.api_url + path, timeout=15, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, **kwargs) -> dict:
        reply = self.request(method, path, **kwargs)
        assert reply.status_code == 200, reply.text
        return reply.json()


@pytest.fixture
def emu_api(fresh_emulator):
    """An ApiClient on a freshly reset emulator."""
    client = ApiClient(fresh_emulator)
    yield client
    client.session.close()
