"""The capabilities README.md lists are exactly those each plugin's ``--about`` declares."""

from __future__ import annotations

import re

import pytest

from scripts.hub_definitions import about
from tests.meltano.meltano_helpers import ROOT


def readme_capabilities() -> dict[str, list[str]]:
    """``{plugin: [capability, ...]}`` from the README's capabilities table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- BEGIN capabilities", 1)[1].split("<!-- END capabilities -->", 1)[0]
    rows = re.findall(r"^\| `([\w-]+)` \| (.+) \|$", block, re.MULTILINE)
    return {name: re.findall(r"`([\w-]+)`", cells) for name, cells in rows}


@pytest.mark.parametrize("plugin", ["tap-refiner", "target-refiner"])
def test_readme_lists_the_capabilities_of_about(plugin):
    assert readme_capabilities()[plugin] == about(plugin)["capabilities"]
