"""The sync-log streams read a SQLite ledger file written by target-refiner's own backend.

Real ``tap-refiner`` processes (discover, select the three streams, sync); the store is written
through ``SqliteSyncLog``, as the target writes it. Records must equal what was logged, a
second run must emit only what changed (a run row rewritten at its end, a snapshot row
replaced), the bookmark carries the store's identity, and an unset, missing or wrong store says
so in one line.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from refiner_stores.sync_log import (
    CHANGE_COLUMNS,
    CHANGELOG,
    RUN_COLUMNS,
    RUNS,
    SNAPSHOT,
    SNAPSHOT_COLUMNS,
)
from tap_refiner.sync_log_streams import SYNC_LOG_STREAMS as STREAM_TYPES
from tap_refiner.tap import TapRefiner
from target_refiner.sync_log.sqlite import SqliteSyncLog
from tests.reliability.tap_processes import records_of, states_of, sync
from tests.reliability.test_tap_stops import assert_one_line_stop
from tests.tap import sync_log_scenario as scenario
from tests.tap.sync_log_scenario import SYNC_LOG_STREAMS

BASE_CONFIG = {"api_key": "unused-key", "api_url": "http://127.0.0.1:9/v1"}
TABLE_OF = {"sync_runs": RUNS, "sync_changelog": CHANGELOG, "sync_snapshot": SNAPSHOT}


@pytest.fixture
def ledger(tmp_path):
    """Where the target keeps a project's ledger (and its sync log)."""
    return tmp_path / "state" / f"ledger-project-{scenario.PROJECT}.sqlite"


def open_store(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteSyncLog(path)


def tap(store, tmp_path, name, state=None):
    """One tap run of the sync-log streams: (records by stream, last STATE, stderr)."""
    result = sync(
        {**BASE_CONFIG, "sync_log_store": str(store)},
        SYNC_LOG_STREAMS,
        tmp_path / name,
        state=state,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = records_of(result.stdout)
    return (
        {s: records.get(s, []) for s in SYNC_LOG_STREAMS},
        states_of(result.stdout)[-1],
        result.stderr,
    )


def max_seqs(path):
    with closing(sqlite3.connect(path)) as db:
        query = "SELECT max(seq) FROM {}"
        return {s: db.execute(query.format(t)).fetchone()[0] for s, t in TABLE_OF.items()}


def test_records_equal_the_rows_and_a_second_run_emits_only_changes(ledger, tmp_path):
    store = open_store(ledger)
    run = scenario.write_first(store)
    first, state, _ = tap(ledger, tmp_path, "first")
    scenario.assert_first_step(first)
    seqs = max_seqs(ledger)
    for stream in SYNC_LOG_STREAMS:
        bookmark = state["bookmarks"][stream]
        assert bookmark["replication_key"] == "seq"
        assert bookmark["replication_key_value"] == seqs[stream]
        assert bookmark["store_id"] == store.store_id

    scenario.write_second(store, run)
    store.close()
    second, state2, _ = tap(ledger, tmp_path, "second", state)
    scenario.assert_second_step(second, first)
    seqs = max_seqs(ledger)
    for stream in SYNC_LOG_STREAMS:
        assert state2["bookmarks"][stream]["replication_key_value"] == seqs[stream]

    third, state3, _ = tap(ledger, tmp_path, "third", state2)
    assert third == {stream: [] for stream in SYNC_LOG_STREAMS}
    assert state3["bookmarks"] == state2["bookmarks"]


def test_a_recreated_store_is_read_from_the_start_with_a_warning(ledger, tmp_path):
    store = open_store(ledger)
    scenario.write_first(store)
    old_id = store.store_id
    store.close()
    _, state, _ = tap(ledger, tmp_path, "first")

    for leftover in ledger.parent.glob(ledger.name + "*"):
        leftover.unlink()  # a new runner disk: the ledger (and its sync log) made anew
    store = open_store(ledger)
    scenario.write_first(store)
    new_id = store.store_id
    store.close()
    assert new_id != old_id
    again, state2, log = tap(ledger, tmp_path, "again", state)
    scenario.assert_first_step(again)  # not skipped as "seq <= the old bookmark"
    for stream in SYNC_LOG_STREAMS:
        assert f"The {stream} bookmark (seq " in log
        assert state2["bookmarks"][stream]["store_id"] == new_id
    assert f"taken from store {old_id}" in log


def test_unset_skips_the_three_streams_with_one_line(tmp_path):
    result = sync(BASE_CONFIG, SYNC_LOG_STREAMS, tmp_path / "unset")
    assert result.returncode == 0, result.stderr[-3000:]
    assert records_of(result.stdout) == {}
    lines = [line for line in result.stderr.splitlines() if "sync_log_store" in line]
    assert len(lines) == 1, lines
    assert "| INFO" in lines[0]
    assert "Skipping streams sync_runs, sync_changelog, sync_snapshot" in lines[0]
    assert "ledger-project-<uuid>.sqlite" in lines[0]
    assert "`ledger_url`" in lines[0]


def test_a_missing_file_is_one_line_naming_the_setting(tmp_path):
    missing = tmp_path / "state" / "ledger-project-nope.sqlite"
    result = sync(
        {**BASE_CONFIG, "sync_log_store": str(missing)}, SYNC_LOG_STREAMS, tmp_path / "tap"
    )
    assert_one_line_stop(result, "Setting `sync_log_store`", str(missing), "does not exist")
    assert records_of(result.stdout) == {}
    assert not missing.parent.exists()  # reading never creates anything


@pytest.mark.parametrize("contents", ["ledger", "not sqlite"])
def test_a_file_without_the_sync_log_is_one_line_naming_the_setting(tmp_path, contents):
    path = tmp_path / "ledger-project-old.sqlite"
    if contents == "ledger":  # a ledger of a target from before the sync log
        with closing(sqlite3.connect(path)) as db:
            db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    else:
        path.write_text("hello")
    before = path.read_bytes()
    result = sync({**BASE_CONFIG, "sync_log_store": str(path)}, SYNC_LOG_STREAMS, tmp_path / "tap")
    needle = "which has no sync log" if contents == "ledger" else "cannot be read as a sync log"
    assert_one_line_stop(result, "Setting `sync_log_store`", str(path), needle)
    assert records_of(result.stdout) == {}
    assert path.read_bytes() == before  # opened read-only


def test_the_setting_is_documented_and_secret():
    prop = TapRefiner.config_jsonschema["properties"]["sync_log_store"]
    assert prop.get("secret") is True
    for words in ("ledger-project-<uuid>.sqlite", "`ledger_url`", "sync_changelog"):
        assert words in prop["description"]


def test_stream_schemas_are_the_tables_columns_with_plain_keys():
    columns = {
        "sync_runs": RUN_COLUMNS,
        "sync_changelog": CHANGE_COLUMNS,
        "sync_snapshot": SNAPSHOT_COLUMNS,
    }
    for stream_type in STREAM_TYPES:
        properties = stream_type.schema["properties"]
        assert tuple(properties) == columns[stream_type.name]
        for key in stream_type.primary_keys:  # warehouse targets key on plain values only
            assert set(properties[key]["type"]) <= {"string", "integer"}, (stream_type.name, key)
