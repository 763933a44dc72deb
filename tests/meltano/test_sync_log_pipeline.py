"""The sync log into DuckDB through real Meltano: ``tap-refiner`` (only the sync-log streams)
``target-duckdb``, twice. The store is a ledger file written by target-refiner's backend; the
second run must bring only the rows written or changed since, and the warehouse must end with
one row per key.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from target_refiner.sync_log.sqlite import SqliteSyncLog
from tests.meltano.meltano_helpers import tap_summary_records
from tests.tap import sync_log_scenario as scenario
from tests.tap.sync_log_scenario import SYNC_LOG_STREAMS

pytestmark = pytest.mark.meltano

KEYS = {
    "sync_runs": "run_id",
    "sync_changelog": "seq",
    "sync_snapshot": "project, stream, row_key",
}
STATE_ID = "demo:tap-refiner-to-target-duckdb"


def warehouse_rows(path) -> dict[str, list[dict]]:
    """Each sync-log table's rows in seq order, after checking that no key is there twice."""
    found = {}
    with duckdb.connect(str(path), read_only=True) as con:
        for stream, key in KEYS.items():
            cursor = con.execute(f"SELECT * FROM refiner.{stream} ORDER BY seq")  # noqa: S608 - constant names
            names = [column[0] for column in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            keys = con.execute(f"SELECT count(DISTINCT ({key})) FROM refiner.{stream}").fetchone()  # noqa: S608 - constant names
            assert keys == (len(rows),), f"{stream}: a key is there twice"
            found[stream] = rows
    return found


def test_sync_log_into_duckdb_second_run_brings_only_new_rows(meltano_project, tmp_path):
    ledger = tmp_path / "state" / f"ledger-project-{scenario.PROJECT}.sqlite"
    ledger.parent.mkdir()
    store = SqliteSyncLog(ledger)
    run = scenario.write_first(store)
    warehouse = tmp_path / "warehouse.duckdb"
    env = {
        "TAP_REFINER_API_URL": "http://127.0.0.1:9/v1",  # never called: no Refiner stream runs
        "TAP_REFINER_SYNC_LOG_STORE": str(ledger),
        "TAP_REFINER__SELECT": json.dumps([f"{stream}.*" for stream in SYNC_LOG_STREAMS]),
        "TARGET_DUCKDB_FILEPATH": str(warehouse),
    }
    pipeline = ("--environment=demo", "run", "tap-refiner", "target-duckdb")
    first = meltano_project.run(*pipeline, env=env)
    assert tap_summary_records(first.stdout + first.stderr) == {
        "sync_runs": 1,
        "sync_changelog": 3,
        "sync_snapshot": 3,
    }
    after_first = warehouse_rows(warehouse)

    scenario.write_second(store, run)
    store.close()
    second = meltano_project.run(*pipeline, env=env)
    # Only what step two wrote or changed was extracted ...
    emitted = tap_summary_records(second.stdout + second.stderr)
    assert emitted == {"sync_runs": 1, "sync_changelog": 2, "sync_snapshot": 2}
    after_second = warehouse_rows(warehouse)
    # ... and landed once each (no key twice: checked by warehouse_rows).
    scenario.assert_landed_twice(after_first, after_second)
    assert after_second["sync_runs"][0]["exit_code"] == 0

    state = meltano_project.run("--environment=demo", "state", "get", STATE_ID, env=env)
    bookmarks = json.loads(state.stdout)["singer_state"]["bookmarks"]
    for stream, rows in after_second.items():
        assert bookmarks[stream]["store_id"] == store.store_id
        assert bookmarks[stream]["replication_key_value"] == rows[-1]["seq"]
