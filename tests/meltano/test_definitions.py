"""meltano.yml, the Hub definitions and the README tables agree with the plugins' ``--about``.

No Meltano needed: these read files and run ``--about``. When one fails, run
``.venv/bin/python scripts/hub_definitions.py`` and ``.venv/bin/python scripts/readme_settings.py``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from scripts.hub_definitions import about
from tests.meltano.meltano_helpers import ROOT

PLUGINS = [("extractors", "tap-refiner"), ("loaders", "target-refiner")]
HUB_KEYS = {
    "name",
    "namespace",
    "variant",
    "label",
    "description",
    "repo",
    "pip_url",
    "executable",
    "capabilities",
    "settings",
    "settings_group_validation",
}


def meltano_plugin(plugin_type: str, name: str) -> dict:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return next(p for p in project["plugins"][plugin_type] if p["name"] == name)


@pytest.mark.parametrize(("plugin_type", "name"), PLUGINS)
def test_meltano_yml_declares_exactly_the_plugin_settings(plugin_type, name):
    data = about(name)
    plugin = meltano_plugin(plugin_type, name)
    declared = [s["name"] for s in plugin["settings"]]
    assert declared == list(data["settings"]["properties"])
    assert plugin["capabilities"] == data["capabilities"]
    assert plugin["pip_url"] == "-e .[postgres]"  # pacing_url, a PostgreSQL webhook_store
    assert plugin["executable"] == name
    assert plugin["namespace"] == name.replace("-", "_")
    by_name = {s["name"]: s for s in plugin["settings"]}
    assert by_name["api_key"]["sensitive"] is True
    assert all(s.get("kind") and s.get("description") for s in plugin["settings"])


@pytest.mark.parametrize(("plugin_type", "name"), PLUGINS)
def test_hub_definition_matches_about(plugin_type, name):
    data = about(name)
    hub = yaml.safe_load((ROOT / "hub" / plugin_type / f"{name}.yml").read_text())
    assert set(hub) >= HUB_KEYS
    assert [s["name"] for s in hub["settings"]] == list(data["settings"]["properties"])
    assert hub["settings_group_validation"] == [data["settings"]["required"]]
    for setting in hub["settings"]:
        assert {"name", "kind", "label", "description"} <= set(setting), setting
        prop = data["settings"]["properties"][setting["name"]]
        assert setting.get("sensitive", False) == bool(prop.get("secret")), setting["name"]


@pytest.mark.parametrize("script", ["hub_definitions.py", "readme_settings.py"])
def test_generated_files_are_up_to_date(script):
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_readme_starts_with_the_two_commands():
    lines = [line for line in (ROOT / "README.md").read_text().splitlines() if line.strip()]
    fence = lines.index("```sh")
    assert lines[fence + 1 : fence + 4] == ["make demo", "make test", "```"]


def test_demo_samples_are_the_generated_ones(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo_data.py"), "--out", str(tmp_path)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    for name in ("users.jsonl", "events.jsonl"):
        assert (tmp_path / name).read_bytes() == (ROOT / "demo" / name).read_bytes(), name
