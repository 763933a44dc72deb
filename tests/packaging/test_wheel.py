"""The built wheel in a fresh virtualenv holds only what production needs, and it works.

``pip install refiner-singer`` must bring singer-sdk, requests and backoff, not the webhook
receiver's server stack (the ``webhooks`` extra) nor the emulator (a development distribution).
The wheel is built from this checkout and installed with its dependencies from the package
index; the plugins then run from that virtualenv against the session's emulator.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from refiner_webhooks.event import WebhookEvent
from refiner_webhooks.store import EventStore
from refiner_webhooks.testing import sample_event
from tests.reliability.tap_processes import records_of, sync

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
NOT_FOR_PRODUCTION = ("starlette", "uvicorn", "psycopg", "refiner_emulator", "pytest", "duckdb")
INSTALL_TIMEOUT = 600


def run(*command: str | Path, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
        **kwargs,
    )


@pytest.fixture(scope="module")
def production_bin(tmp_path_factory) -> Path:
    """The ``bin`` of a fresh virtualenv holding the wheel and its production dependencies."""
    work = tmp_path_factory.mktemp("wheel")
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", work / "dist", ROOT)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (work / "dist").glob("refiner_singer-*.whl")
    created = run(sys.executable, "-m", "venv", work / "venv")
    assert created.returncode == 0, created.stderr
    bin_dir = work / "venv" / "bin"
    installed = run(bin_dir / "python", "-m", "pip", "install", "--quiet", wheel)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return bin_dir


@pytest.fixture
def emu(emulator):
    """The session emulator with its seed data, given back as it was found."""
    emulator.reset(data=True, config=True)
    yield emulator
    emulator.reset(data=True, config=True)


def test_only_production_dependencies_are_installed(production_bin):
    probe = (
        "import importlib.util, json, sys; "
        "print(json.dumps([m for m in sys.argv[1:] if importlib.util.find_spec(m)]))"
    )
    found = run(production_bin / "python", "-c", probe, *NOT_FOR_PRODUCTION)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == []
    needed = (
        "singer_sdk",
        "requests",
        "backoff",
        "msgspec",
        "tap_refiner",
        "refiner_webhooks",
        "refiner_stores",
    )
    present = run(production_bin / "python", "-c", probe, *needed)
    assert json.loads(present.stdout) == list(needed)


@pytest.mark.parametrize("plugin", ["tap-refiner", "target-refiner"])
def test_plugins_answer_about(production_bin, plugin):
    about = run(production_bin / plugin, "--about", "--format=json")
    assert about.returncode == 0, about.stderr[-3000:]
    assert json.loads(about.stdout)["name"] == plugin


def test_webhook_receiver_names_the_extra(production_bin, tmp_path):
    store = tmp_path / "events.sqlite"
    serve = run(production_bin / "refiner-webhooks", "serve", "--port", "0", "--store", store)
    assert serve.returncode == 2
    lines = serve.stderr.strip().splitlines()
    assert len(lines) == 1, serve.stderr
    assert "pip install 'refiner-singer[webhooks]'" in lines[0]
    assert not store.exists()  # the check comes before anything is opened


def test_tap_syncs_the_api_and_the_webhook_store(production_bin, emu, tmp_path):
    store_path = tmp_path / "events.sqlite"
    store = EventStore(store_path)
    try:
        store.insert_many([WebhookEvent.from_payload(sample_event(n)) for n in (1, 2)])
    finally:
        store.close()
    config = {
        "api_key": emu.api_key,
        "api_url": emu.api_url,
        "webhook_store": str(store_path),
    }
    tap = str(production_bin / "tap-refiner")
    result = sync(config, ["segments", "webhook_events"], tmp_path / "tap", tap=tap)
    assert result.returncode == 0, result.stderr[-3000:]
    records = records_of(result.stdout)
    assert len(records["segments"]) == len(emu.api.items("/segments"))
    assert [r["payload"]["uuid"] for r in records["webhook_events"]] == ["contact-1", "contact-2"]


def test_target_sends_from_the_production_install(production_bin, emu, tmp_path):
    config = tmp_path / "target.json"
    config.write_text(
        json.dumps(
            {
                "api_key": emu.api_key,
                "api_url": emu.api_url,
                "state_dir": str(tmp_path / "state"),
            }
        )
    )
    schema = {"type": "object", "properties": {"id": {"type": "string"}, "plan": {}}}
    messages = [
        {"type": "SCHEMA", "stream": "users", "schema": schema, "key_properties": ["id"]},
        {"type": "RECORD", "stream": "users", "record": {"id": "wheel-1", "plan": "pro"}},
        {"type": "STATE", "value": {"done": True}},
    ]
    lines = "".join(json.dumps(m) + "\n" for m in messages)
    sent = run(production_bin / "target-refiner", "--config", config, input=lines)
    assert sent.returncode == 0, sent.stderr[-3000:]
    assert json.loads(sent.stdout.splitlines()[-1]) == {"done": True}
    (call,) = emu.calls(path="/v1/identify-user")
    assert call["params"] == {"id": "wheel-1", "plan": "pro"}


def test_a_postgresql_setting_names_the_extra(production_bin, emu, tmp_path):
    config = tmp_path / "target.json"
    url = "postgresql://refiner:Lean-Secret-5@db.internal/refiner"
    config.write_text(
        json.dumps(
            {
                "api_key": emu.api_key,
                "api_url": emu.api_url,
                "state_dir": str(tmp_path / "state"),
                "pacing_url": url,
            }
        )
    )
    stopped = run(production_bin / "target-refiner", "--config", config, input="")
    assert stopped.returncode == 1
    errors = [line for line in stopped.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, stopped.stderr[-3000:]
    assert errors[0].endswith("pip install 'refiner-singer[postgres]'")
    assert "Lean-Secret-5" not in stopped.stderr
    assert "Traceback" not in stopped.stderr
