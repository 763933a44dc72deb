"""Assertions on the built sync-log models shared by the DuckDB and PostgreSQL tests.

``query(sql)`` runs one statement in the warehouse; every check compares the models with what
the store (tests.dbt.sync_log_store) holds, counted in Python, not with the SQL's own output.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from tests.dbt.sync_log_store import (
    PROJECT,
    TOO_LONG,
    expected_errors,
    expected_run_totals,
    store_rows,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tests.dbt.marts import Query

#: refiner__sync_errors's columns, as transform/models/marts/sync_log/refiner_sync_log.yml lists.
MART_COLUMNS = (
    "sync_error_id",
    "project",
    "stream",
    "outcome",
    "error_message",
    "error_date",
    "error_count",
    "run_count",
    "contact_count",
    "first_seen_at",
    "last_seen_at",
    "last_run_id",
    "last_http_status",
)


def check_errors_mart(query: Query, store: Path) -> None:
    """refiner__sync_errors: its columns, and per group the counts and times of the store."""
    columns = query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "'refiner_analytics' AND table_name = 'refiner__sync_errors' ORDER BY ordinal_position"
    )
    assert tuple(c[0] for c in columns) == MART_COLUMNS
    rows = query(
        f"SELECT {', '.join(MART_COLUMNS[1:])} FROM refiner_analytics.refiner__sync_errors"  # noqa: S608 - constant names
    )
    found = {
        tuple(r[:5]): {
            "error_count": r[5],
            "run_count": r[6],
            "contact_count": r[7],
            "first_seen_at": r[8].astimezone(dt.timezone.utc),
            "last_seen_at": r[9].astimezone(dt.timezone.utc),
            "last_run_id": r[10],
            "last_http_status": r[11],
        }
        for r in rows
    }
    assert found == expected_errors(store)
    # The scenario's shape: one message on both sides of midnight, and in two runs that day.
    too_long = {key[4]: found[key]["run_count"] for key in found if key[::3] == (PROJECT, TOO_LONG)}
    assert too_long == {dt.date(2026, 12, 5): 1, dt.date(2026, 12, 6): 2}


def check_staging(query: Query, store: Path) -> None:
    """One row per run (with its totals), per changelog seq and per snapshot key."""
    runs = query(
        "SELECT run_id, run_status, rows_in, sent, unchanged, replays, rejected "
        "FROM refiner_analytics.stg_refiner__sync_runs"
    )
    assert {r[0]: tuple(r[1:]) for r in runs} == expected_run_totals(store)
    assert {r[1] for r in runs} == {"finished", "failed", "running"}
    changes = store_rows(store, "refiner_sync_changelog")
    staged = query(
        "SELECT change_seq, run_id, outcome, message "
        "FROM refiner_analytics.stg_refiner__sync_changelog ORDER BY change_seq"
    )
    assert [tuple(r) for r in staged] == [
        (c["seq"], c["run_id"], c["outcome"], c["message"]) for c in changes
    ]
    snapshot = query(
        "SELECT project, stream, change_seq, action "
        "FROM refiner_analytics.stg_refiner__sync_snapshot"
    )
    assert sorted(tuple(r) for r in snapshot) == sorted(
        (s["project"], s["stream"], s["seq"], s["action"])
        for s in store_rows(store, "refiner_sync_snapshot")
    )
