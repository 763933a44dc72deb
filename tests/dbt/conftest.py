"""Fixtures of the dbt package tests: the Meltano ones, and an emulator whose data ends now.

The emulator runs with ``--recent`` (its seeded 90 days end an hour ago), so Refiner's reports
of the last 30 days, the last-30-days figures and the audience have data; with 400 responses
every NPS group and every CSAT score occurs (the tests check that too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.meltano.conftest import meltano_bin, meltano_project, running_stack

if TYPE_CHECKING:
    from tests.meltano.conftest import RefinerStack

__all__ = ["meltano_bin", "meltano_project"]

RECENT_STACK_ARGS = ("--recent", "--seed", "3", "--contacts", "150", "--responses", "400")


@pytest.fixture(scope="module")
def recent_stack(tmp_path_factory):
    """An emulator with recent data (and a receiver for the tap's webhook_events), per module."""
    with running_stack(tmp_path_factory.mktemp("recent-stack"), *RECENT_STACK_ARGS) as stack:
        yield stack


def tap_env(stack: RefinerStack, state_suffix: str) -> dict[str, str]:
    """tap-refiner against the stack, reading partial responses and views too.

    ``responses_include: all``: Refiner's reports count unfinished responses' answers (the
    reconciliation is exact only then) and views need the responses that were only shown.
    ``state_suffix`` keeps these runs' STATE apart from the other tests' pipelines (the session
    shares one Meltano system database; a bookmark from this emulator's recent data would make
    their first run incremental).
    """
    return {
        "MELTANO_RUN_STATE_ID_SUFFIX": state_suffix,
        "REFINER_API_KEY": stack.emulator.api_key,
        "TAP_REFINER_API_URL": stack.emulator.api_url,
        "TAP_REFINER_WEBHOOK_STORE": str(stack.store),
        "TAP_REFINER_MAX_TRIES": "3",
        "TAP_REFINER_RESPONSES_INCLUDE": "all",
        "TAP_REFINER_REPORT_TYPES": '["nps", "csat"]',
    }
