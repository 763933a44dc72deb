"""A ``postgresql://`` setting without the ``postgres`` extra: one line naming the extra.

psycopg is made unimportable in the child processes by a ``sitecustomize`` on PYTHONPATH (as
in an install without the extra); nothing is opened, created or sent before the stop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
URL = "postgresql://refiner:Sup3r-Secret-9@db.internal:5432/refiner"
EXTRA = "pip install 'refiner-singer[postgres]'"
BLOCKER = '''
import sys

class _NoPsycopg:
    """psycopg is not installed, as far as this process can tell."""

    def find_spec(self, name, path=None, target=None):
        if name == "psycopg" or name.startswith(("psycopg.", "psycopg_")):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NoPsycopg())
'''


@pytest.fixture
def without_psycopg(tmp_path):
    """An environment whose Python processes cannot import psycopg."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFINER_WEBHOOK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    probe = subprocess.run(
        [sys.executable, "-c", "import psycopg"], env=env, capture_output=True, check=False
    )
    assert probe.returncode != 0  # the blocker works
    return env


def run(command: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False, **kwargs
    )


def only_line(stderr: str, *, plugin: bool = False) -> str:
    """The one line said (a plugin also logs its INFO banner: then the one ERROR line)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if plugin:
        lines = [line for line in lines if "ERROR" in line or "Traceback" in line]
    assert len(lines) == 1, stderr
    assert "Sup3r-Secret-9" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    ("plugin", "setting"),
    [
        ("target-refiner", "pacing_url"),
        ("target-refiner", "ledger_url"),
        ("tap-refiner", "pacing_url"),
        ("tap-refiner", "webhook_store"),
    ],
)
def test_plugins_name_the_extra(without_psycopg, tmp_path, fresh_emulator, plugin, setting):
    config = {
        "api_key": fresh_emulator.api_key,
        "api_url": fresh_emulator.api_url,
        "state_dir": str(tmp_path / "state"),
        setting: URL,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    result = run([str(BIN / plugin), "--config", str(path)], without_psycopg, input="")
    assert result.returncode == 1
    line = only_line(result.stderr, plugin=True)
    assert f"Setting `{setting}` is a PostgreSQL URL" in line
    assert line.endswith(EXTRA)
    assert fresh_emulator.calls() == []  # stopped before any call
    assert not (tmp_path / "state").exists()


def test_refiner_api_names_the_extra(without_psycopg, tmp_path, fresh_emulator):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"api_key": fresh_emulator.api_key, "pacing_url": URL}))
    command = [sys.executable, "-m", "refiner_api.cli", "GET", "/v1/", "--config", str(path)]
    env = {**without_psycopg, "REFINER_API_URL": fresh_emulator.api_url}
    result = run(command, env)
    assert result.returncode == 2
    assert only_line(result.stderr).endswith(EXTRA)
    assert fresh_emulator.calls() == []


def test_the_receiver_names_the_extra(without_psycopg):
    env = {**without_psycopg, "REFINER_WEBHOOK_STORE": URL}
    result = run([str(BIN / "refiner-webhooks"), "serve", "--port", "0"], env)
    assert result.returncode == 2
    line = only_line(result.stderr)
    assert "--store is a PostgreSQL URL" in line
    assert line.endswith(EXTRA)
