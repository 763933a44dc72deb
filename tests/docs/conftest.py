"""The Meltano fixtures of tests/meltano, so README's Meltano blocks run the same way."""

from __future__ import annotations

from tests.meltano.conftest import meltano_bin, meltano_project

__all__ = ["meltano_bin", "meltano_project"]
