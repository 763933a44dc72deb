"""The sync-log streams reading a ``ledger_url`` database, and landing in PostgreSQL via Meltano.

The store is written by target-refiner's own PostgreSQL backend (``PostgresSyncLog``) in the
suite's PostgreSQL, whose time zone is not UTC. Real ``tap-refiner`` processes read it by URL
(password included, never shown); real Meltano runs ``tap-refiner target-postgres`` twice with
the store in the warehouse itself (``postgresql://`` and the libpq variables, as the
``warehouse`` environment has it), and the second run brings only the new rows.
"""

from __future__ import annotations

import json

import pytest

from refiner_stores.sync_log import PG_STORE_TABLE, TABLES
from target_refiner.sync_log.postgres import PostgresSyncLog
from tests.meltano.meltano_helpers import tap_summary_records
from tests.reliability.tap_processes import records_of, states_of, sync
from tests.reliability.test_tap_stops import assert_one_line_stop
from tests.tap import sync_log_scenario as scenario
from tests.tap.sync_log_scenario import SYNC_LOG_STREAMS

BASE_CONFIG = {"api_key": "unused-key", "api_url": "http://127.0.0.1:9/v1"}
TABLE_OF = dict(zip(SYNC_LOG_STREAMS, TABLES, strict=True))
KEYS = {"sync_runs": "run_id", "sync_changelog": "seq", "sync_snapshot": "project, stream, row_key"}


def tap(url, tmp_path, name, state=None):
    """One tap run of the sync-log streams: (records by stream, last STATE, stderr)."""
    config = {**BASE_CONFIG, "sync_log_store": url}
    result = sync(config, SYNC_LOG_STREAMS, tmp_path / name, state=state)
    assert result.returncode == 0, result.stderr[-3000:]
    records = records_of(result.stdout)
    found = {stream: records.get(stream, []) for stream in SYNC_LOG_STREAMS}
    return found, states_of(result.stdout)[-1], result.stderr


def store_id(warehouse):
    return warehouse.scalar(f"SELECT store_id FROM {PG_STORE_TABLE}")  # noqa: S608 - constant


def max_seqs(warehouse, schema="public"):
    return {
        stream: warehouse.scalar(f"SELECT max(seq) FROM {schema}.{table}")  # noqa: S608 - constant names
        for stream, table in TABLE_OF.items()
    }


def test_records_equal_the_rows_and_a_second_run_emits_only_changes(warehouse, tmp_path):
    assert "@" in warehouse.url  # the URL carries a password
    store = PostgresSyncLog(warehouse.url)
    run = scenario.write_first(store)
    first, state, log = tap(warehouse.url, tmp_path, "first")
    scenario.assert_first_step(first)  # times in UTC although the database's zone is not
    seqs = max_seqs(warehouse)
    for stream in SYNC_LOG_STREAMS:
        assert state["bookmarks"][stream]["replication_key_value"] == seqs[stream]
        assert state["bookmarks"][stream]["store_id"] == store_id(warehouse)

    scenario.write_second(store, run)
    store.close()
    second, state2, log2 = tap(warehouse.url, tmp_path, "second", state)
    scenario.assert_second_step(second, first)
    seqs = max_seqs(warehouse)
    for stream in SYNC_LOG_STREAMS:
        assert state2["bookmarks"][stream]["replication_key_value"] == seqs[stream]
    for text in (log, log2):
        assert warehouse.server.password not in text


def test_a_recreated_store_is_read_from_the_start_with_a_warning(warehouse, tmp_path):
    store = PostgresSyncLog(warehouse.url)
    scenario.write_first(store)
    store.close()
    old_id = store_id(warehouse)
    _, state, _ = tap(warehouse.url, tmp_path, "first")

    tables = ", ".join((*TABLES, PG_STORE_TABLE))
    warehouse.execute(
        f"DROP TABLE {tables}; DELETE FROM refiner_store_versions WHERE store = 'sync_log'"  # noqa: S608 - constant names
    )
    store = PostgresSyncLog(warehouse.url)
    scenario.write_first(store)
    store.close()
    assert store_id(warehouse) != old_id
    again, state2, log = tap(warehouse.url, tmp_path, "again", state)
    scenario.assert_first_step(again)
    assert f"taken from store {old_id}" in log
    for stream in SYNC_LOG_STREAMS:
        assert state2["bookmarks"][stream]["store_id"] == store_id(warehouse)


def test_a_database_without_the_sync_log_is_one_line_with_the_url_masked(warehouse, tmp_path):
    config = {**BASE_CONFIG, "sync_log_store": warehouse.url}
    result = sync(config, SYNC_LOG_STREAMS, tmp_path / "tap")
    line = assert_one_line_stop(
        result, "Setting `sync_log_store`", "postgresql://postgres:***@", "has no sync log"
    )
    assert "`ledger_url`" in line
    assert warehouse.server.password not in result.stderr
    assert records_of(result.stdout) == {}


def landed(warehouse) -> dict[str, list[dict]]:
    """Each landed table's rows in seq order, after checking that no key is there twice."""
    found = {}
    for stream, key in KEYS.items():
        rows = warehouse.rows(f"SELECT to_jsonb(t) FROM refiner.{stream} t ORDER BY seq")  # noqa: S608 - constant names
        distinct = warehouse.scalar(f"SELECT count(DISTINCT ({key})) FROM refiner.{stream}")  # noqa: S608 - constant names
        assert distinct == len(rows), f"{stream}: a key is there twice"
        found[stream] = [row[0] for row in rows]
    return found


@pytest.mark.meltano
def test_meltano_lands_the_sync_log_in_postgres_second_run_only_new_rows(
    meltano_project, warehouse
):
    store = PostgresSyncLog(warehouse.url)  # the target's ledger_url: the warehouse itself
    run = scenario.write_first(store)
    env = {
        **warehouse.libpq_env(),
        "REFINER_API_KEY": "unused-key",
        "TAP_REFINER_API_URL": "http://127.0.0.1:9/v1",  # never called: no Refiner stream runs
        "TAP_REFINER_SYNC_LOG_STORE": "postgresql://",  # the libpq variables
        "TAP_REFINER__SELECT": json.dumps([f"{stream}.*" for stream in SYNC_LOG_STREAMS]),
    }
    pipeline = ("--environment=warehouse", "run", "tap-refiner", "target-postgres")
    first = meltano_project.run(*pipeline, env=env)
    counts = {"sync_runs": 1, "sync_changelog": 3, "sync_snapshot": 3}
    assert tap_summary_records(first.stdout + first.stderr) == counts
    after_first = landed(warehouse)
    types = dict(
        warehouse.rows(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'refiner' AND table_name = 'sync_runs'"
        )
    )
    assert types["started_at"].startswith("timestamp")
    assert (types["streams"], types["seq"]) == ("jsonb", "bigint")

    scenario.write_second(store, run)
    store.close()
    second = meltano_project.run(*pipeline, env=env)
    emitted = tap_summary_records(second.stdout + second.stderr)
    assert emitted == {"sync_runs": 1, "sync_changelog": 2, "sync_snapshot": 2}
    after_second = landed(warehouse)
    scenario.assert_landed_twice(after_first, after_second)
    assert after_second["sync_runs"][0]["streams"] == scenario.COUNTS

    state = meltano_project.run(
        "--environment=warehouse",
        "state",
        "get",
        "warehouse:tap-refiner-to-target-postgres",
        env=env,
    )
    bookmarks = json.loads(state.stdout)["singer_state"]["bookmarks"]
    seqs = max_seqs(warehouse)
    for stream in SYNC_LOG_STREAMS:
        assert bookmarks[stream]["replication_key_value"] == seqs[stream]
        assert bookmarks[stream]["store_id"] == store_id(warehouse)
