"""``--about`` (and so every run's first line) names the installed ``refiner-singer`` version.

The SDK looks the version up by distribution name, which defaults to the plugin's name
(``tap-refiner``); ours is ``refiner-singer``, so without ``package_name`` it says
``[could not be detected]``.
"""

from __future__ import annotations

import subprocess
from importlib.metadata import version

import pytest

from scripts.hub_definitions import BIN, about

PLUGINS = ["tap-refiner", "target-refiner"]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_about_json_has_the_installed_version(plugin):
    assert about(plugin)["version"] == version("refiner-singer")


@pytest.mark.parametrize("plugin", PLUGINS)
def test_about_text_shows_the_version_line(plugin):
    text = subprocess.run(
        [str(BIN / plugin), "--about"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert f"Version: {version('refiner-singer')}\n" in text
