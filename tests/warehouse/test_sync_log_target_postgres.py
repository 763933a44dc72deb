"""The sync log of real target runs with `ledger_url`: plain tables in PostgreSQL (issue 21).

Real target processes, a real emulator and the suite's real PostgreSQL; the counts are those of
the runs' summary lines, the rejected rows' messages those of the dead-letter file.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from refiner_stores.sync_log import CHANGELOG, RUNS, SNAPSHOT
from tests.reliability.target_processes import run_target
from tests.reliability.test_sync_log_target import (
    dead_letters,
    identified,
    logged_counts,
    summary_counts,
)

ROWS = [
    {
        "type": "SCHEMA",
        "stream": "users",
        "key_properties": ["id"],
        "schema": {"properties": {"id": {}, "plan": {}, "renewed_at": {}}},
    },
    {"type": "RECORD", "stream": "users", "record": {"id": "u1", "plan": "pro"}},
    {"type": "RECORD", "stream": "users", "record": {"id": "u2", "plan": "pro"}},
    {"type": "RECORD", "stream": "users", "record": {"id": "u3", "renewed_at": "soon"}},
    {"type": "STATE", "value": {"users": 3}},
]


@pytest.fixture
def emu(emulator):
    """The session emulator, reset (data, config, calls, faults) for this test."""
    emulator.reset(data=True, config=True)
    yield emulator
    emulator.reset(config=True)


def columns(warehouse, sql: str, *params: object) -> list[dict]:
    """The rows of one query as dicts by column name."""
    with psycopg.connect(warehouse.url, options="-c timezone=UTC") as con:
        cursor = con.execute(sql, params)
        names = [c.name for c in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_runs_with_a_postgres_ledger_log_into_its_database(emu, tmp_path, warehouse):
    cfg = {
        "api_key": emu.api_key,
        "api_url": emu.api_url,
        "state_dir": str(tmp_path / "state"),
        "progress_interval_seconds": 0,
        "ledger_url": warehouse.url,
    }
    results = [run_target(cfg, ROWS, tmp_path, name) for name in ("first", "second")]
    assert [r.returncode for r in results] == [0, 0], results[-1].stderr[-2000:]
    assert identified(emu) == {"u1", "u2"}
    assert not list(Path(cfg["state_dir"]).glob("ledger-*"))  # nothing in SQLite

    runs = columns(warehouse, f"SELECT * FROM {RUNS} ORDER BY seq")  # noqa: S608
    assert [(r["status"], r["exit_code"]) for r in runs] == [("finished", 0)] * 2
    for run, result in zip(runs, results, strict=True):
        summary = summary_counts(result.stderr)
        assert run["streams"] == summary  # jsonb
        sql = f"SELECT * FROM {CHANGELOG} WHERE run_id = %s ORDER BY seq"  # noqa: S608
        logged = columns(warehouse, sql, run["run_id"])
        assert logged_counts(logged) == {
            s: {k: v for k, v in c.items() if k != "rows_in"} for s, c in summary.items()
        }
        rejected = [(r["message"], r["http_status"]) for r in logged if r["outcome"] == "rejected"]
        letters = dead_letters(cfg, run["run_id"])
        assert rejected == [(d["reason"], d["status"]) for d in letters]

    snapshot = columns(warehouse, f"SELECT * FROM {SNAPSHOT} ORDER BY seq")  # noqa: S608
    assert {json.dumps(r["row_key"]): r["action"] for r in snapshot} == {
        '{"id": "u1"}': "unchanged",
        '{"id": "u2"}': "unchanged",
        '{"id": "u3"}': "identify",  # refused again: Refiner still says it is not a date
    }
    assert {r["run_id"] for r in snapshot} == {runs[1]["run_id"]}
