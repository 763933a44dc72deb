"""The sync-log models on PostgreSQL through real Meltano (``warehouse`` environment).

``tap-refiner target-postgres dbt-postgres:build`` with ``sync_log_store`` set and
``using_sync_log`` on: the tap lands the Refiner data and the sync log (a ledger file written by
target-refiner's SQLite backend) in the suite's PostgreSQL, and dbt-postgres builds every model,
the sync-log ones with their PostgreSQL macros (jsonb entries, timestamptz). The checks are the
DuckDB test's: the mart and staging against what the store holds, counted in Python.
"""

from __future__ import annotations

import pytest

from tests.dbt.conftest import recent_stack, tap_env
from tests.dbt.sync_log_checks import check_errors_mart, check_staging
from tests.dbt.sync_log_store import write_store

__all__ = ["recent_stack"]

pytestmark = pytest.mark.meltano

JOB = ("--environment=warehouse", "run", "tap-refiner", "target-postgres", "dbt-postgres:build")


def test_sync_log_models_on_postgres(meltano_project, recent_stack, warehouse, tmp_path):
    store = write_store(tmp_path / ".target-refiner")
    env = {
        **tap_env(recent_stack, "dbt-sync-log-postgres"),
        **warehouse.libpq_env(),
        "TAP_REFINER_SYNC_LOG_STORE": str(store),
        "REFINER_USING_SYNC_LOG": "true",
    }
    meltano_project.run(*JOB, env=env)

    check_errors_mart(warehouse.rows, store)
    check_staging(warehouse.rows, store)
