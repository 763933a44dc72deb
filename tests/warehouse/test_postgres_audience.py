"""A warehouse view mirrored into a manual segment through real Meltano (issues 10 and 11).

``meltano run warehouse-reverse-sync`` (tap-postgres target-refiner, with ACTIVATE_VERSION): the
view refiner_sync.churn_risk (churn_risk.sql) is the segment's complete member list. Each run
adds who entered the view and removes who left it, a run that changes nothing costs no call, a
large shrink is refused (nothing removed, the run fails) unless allowed for one run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.meltano.meltano_helpers import summary_counts
from tests.warehouse.test_postgres_to_refiner import SOURCE_SQL, last_seq

pytestmark = pytest.mark.meltano

AUDIENCE_SQL = Path(__file__).with_name("churn_risk.sql")
JOB = ("--environment=warehouse", "run", "warehouse-reverse-sync")
AUDIENCE = "refiner_sync-churn_risk"
AT_RISK = set(range(60, 100)) | set(range(160, 200))  # churn_score >= 0.6


def member_ids(emulator, segment: str) -> set[int]:
    return {int(c["remote_id"]) for c in emulator.api.items("/contacts", segment_uuid=segment)}


@pytest.fixture
def audience_sync(meltano_project, refiner_stack, warehouse, tmp_path):
    """The source and the audience view loaded; runs the job against the module's emulator."""
    emulator = refiner_stack.emulator
    segment = emulator.add_segment("Churn risk")
    warehouse.execute(SOURCE_SQL.read_text(encoding="utf-8"))
    warehouse.execute(AUDIENCE_SQL.read_text(encoding="utf-8").replace("{segment_uuid}", segment))
    env = {
        **warehouse.libpq_env(),
        "REFINER_API_KEY": emulator.api_key,
        "TARGET_REFINER_API_URL": emulator.api_url,
        "TARGET_REFINER_STATE_DIR": str(tmp_path / "ledger"),
        "TARGET_REFINER_PROGRESS_INTERVAL_SECONDS": "0",
        "TAP_POSTGRES_EMIT_ACTIVATE_VERSION_MESSAGES": "true",
    }

    def run(*, check: bool = True, **extra_env: str) -> tuple[list[dict], str, int]:
        """One job run: its sync-segment calls, its log and its exit code."""
        seq = last_seq(emulator)
        result = meltano_project.run(*JOB, env={**env, **extra_env}, check=check)
        calls = emulator.calls(path="/v1/sync-segment", since_seq=seq)
        return calls, result.stdout + result.stderr, result.returncode

    return segment, run


def test_a_view_defines_the_segment_exactly(audience_sync, refiner_stack, warehouse):
    segment, run = audience_sync
    emulator = refiner_stack.emulator

    calls, log, _ = run()
    assert member_ids(emulator, segment) == AT_RISK
    assert {c["method"] for c in calls} == {"POST"}
    assert len(calls) == len(AT_RISK)
    # Identified by user id; the view's email (mixed case or NULL) is only a second identifier.
    assert {type(c["params"]["id"]) for c in calls} == {int}
    assert "ACTIVATE_VERSION message received but not implemented" in log  # users, events
    assert f"from stream '{AUDIENCE}': 80 added, 0 removed, 0 unchanged, 0 rejected" in log

    # 20 users leave the view, 20 enter it: exactly 20 adds and 20 removals.
    warehouse.execute(
        "UPDATE app.health SET churn_score = churn_score - 0.2 WHERE user_id BETWEEN 60 AND 79;"
        "UPDATE app.health SET churn_score = 0.9 WHERE user_id BETWEEN 1 AND 20;"
    )
    calls, log, _ = run()
    expected = (AT_RISK - set(range(60, 80))) | set(range(1, 21))
    assert member_ids(emulator, segment) == expected
    assert sorted((c["method"], int(c["params"]["id"])) for c in calls) == sorted(
        [("POST", i) for i in range(1, 21)] + [("DELETE", i) for i in range(60, 80)]
    )
    assert f"from stream '{AUDIENCE}': 20 added, 20 removed, 60 unchanged" in log

    # Nothing changed in the warehouse: no sync-segment call at all.
    calls, log, _ = run()
    assert calls == []
    assert summary_counts(log, AUDIENCE) == {"in": 80, "sent": 0, "skipped": 80, "rejected": 0}

    # Most of the audience leaves at once (a broken upstream table looks the same): refused.
    warehouse.execute("UPDATE app.health SET churn_score = 0 WHERE user_id >= 90")
    calls, log, code = run(check=False)
    assert code != 0
    assert "Mirror refused, nothing was changed" in log
    assert "it would remove 50 of its 80 members (62%)" in log
    assert calls == []
    assert member_ids(emulator, segment) == expected

    # The same shrink, allowed for one run.
    calls, _, _ = run(TARGET_REFINER_ALLOW_LARGE_REMOVALS="true")
    assert member_ids(emulator, segment) == set(range(1, 21)) | set(range(80, 90))
    assert [c["method"] for c in calls] == ["DELETE"] * 50
