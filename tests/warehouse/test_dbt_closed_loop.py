"""The closed loop on PostgreSQL through real Meltano: ``meltano run warehouse-closed-loop``.

One job: tap-refiner target-postgres dbt-postgres:build tap-postgres--audience target-refiner.
After it, the marts hold what the emulator holds (the same checks as on DuckDB: every survey-day,
the NPS groups and CSAT scores, NPS against Refiner's reports) and the manual segment's members
are exactly the contacts of the audience model. The second run re-extracts (upserts), rebuilds,
mirrors again: no segment call, and the marts are unchanged.
"""

from __future__ import annotations

import pytest

from tests.dbt.conftest import recent_stack, tap_env
from tests.dbt.expected import expected_from
from tests.dbt.marts import check_all, snapshot
from tests.warehouse.test_postgres_to_refiner import last_seq

__all__ = ["recent_stack"]

pytestmark = pytest.mark.meltano

JOB = ("--environment=warehouse", "run", "warehouse-closed-loop")
# Segment names a contact is in change once the loop adds them to the segment; the rest of the
# marts must not change between runs.
UNCHANGED = (
    "refiner__response_breakdown",
    "refiner__survey_daily",
    "refiner__survey_overview",
    "refiner__recent_detractors",
)


def test_closed_loop_mirrors_the_audience_into_a_segment(
    meltano_project, recent_stack, warehouse, tmp_path
):
    emulator = recent_stack.emulator
    segment = emulator.add_segment("Recent detractors")
    env = {
        **tap_env(recent_stack, "dbt-closed-loop"),
        **warehouse.libpq_env(),
        "TARGET_REFINER_API_URL": emulator.api_url,
        "TARGET_REFINER_STATE_DIR": str(tmp_path / "ledger"),
        "TARGET_REFINER_PROGRESS_INTERVAL_SECONDS": "0",
        "REFINER_DETRACTORS_SEGMENT_UUID": segment,
    }
    expected = expected_from(recent_stack.client)
    seq = last_seq(emulator)
    meltano_project.run(*JOB, env=env)

    def query(sql: str) -> list[tuple]:
        return warehouse.rows(sql)

    check_all(query, expected, segment)
    members = {c["uuid"] for c in emulator.api.items("/contacts", segment_uuid=segment)}
    assert members == expected.detractors
    calls = emulator.calls(path="/v1/sync-segment", since_seq=seq)
    assert [c["method"] for c in calls] == ["POST"] * len(expected.detractors)
    before = {mart: rows for mart, rows in snapshot(query).items() if mart in UNCHANGED}

    seq = last_seq(emulator)
    meltano_project.run(*JOB, env=env)
    assert emulator.calls(path="/v1/sync-segment", since_seq=seq) == []
    assert {mart: rows for mart, rows in snapshot(query).items() if mart in UNCHANGED} == before
    assert {c["uuid"] for c in emulator.api.items("/contacts", segment_uuid=segment)} == members
