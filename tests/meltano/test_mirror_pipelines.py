"""mirror_segment through real Meltano with an incremental tap: refused before any call.

tap-jsonl reads a file again only when it changed (a replication-key bookmark per file), so a
run's rows are not the complete list. Mirroring them would remove everyone in an unchanged
file; the target must refuse, naming the stream and the bookmark, and change nothing.
"""

from __future__ import annotations

import json

import pytest

from tests.meltano.test_pipelines import last_seq

pytestmark = pytest.mark.meltano


def test_an_incremental_tap_cannot_feed_a_mirror(meltano_project, refiner_stack, tmp_path):
    emulator = refiner_stack.emulator
    segment = emulator.add_segment("Users from files")
    mappings = {"users": {"action": "mirror_segment", "user_id": "id", "segment_uuid": segment}}
    env = {
        "TARGET_REFINER_API_URL": emulator.api_url,
        "TARGET_REFINER_STATE_DIR": str(tmp_path / "ledger"),
        "TARGET_REFINER_PROGRESS_INTERVAL_SECONDS": "0",
        "TARGET_REFINER_MAPPINGS": json.dumps(mappings),
    }
    seq = last_seq(emulator)
    result = meltano_project.run(
        "--environment=demo",
        "run",
        "--full-refresh",
        "tap-jsonl--users",
        "target-refiner",
        env=env,
        check=False,
    )
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Stream 'users' (mirror_segment) cannot be mirrored: its input is incremental" in log
    assert "(the tap's STATE has bookmarks.users." in log
    assert emulator.calls(path="/v1/sync-segment", since_seq=seq) == []
    assert emulator.api.items("/contacts", segment_uuid=segment) == []
