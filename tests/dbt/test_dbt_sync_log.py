"""The sync-log models on DuckDB through real Meltano: ``refiner-to-duckdb`` with the sync log.

tap-refiner reads the Refiner data from an emulator and the sync log (``sync_log_store``) from a
ledger file written by target-refiner's SQLite backend (tests.dbt.sync_log_store); target-duckdb
lands both; ``dbt-duckdb:build`` runs with ``using_sync_log`` on, so the sync-log models and
their tests are built beside the others. The mart and the staging models are compared with what
the store holds, counted in Python. (With the setting off, tests/dbt/test_dbt_duckdb.py builds
the package with no sync-log tables at all.)
"""

from __future__ import annotations

import pytest

from tests.dbt.conftest import tap_env
from tests.dbt.sync_log_checks import check_errors_mart, check_staging
from tests.dbt.sync_log_store import write_store
from tests.dbt.test_dbt_duckdb import query_file

pytestmark = pytest.mark.meltano


@pytest.fixture(scope="module")
def built(meltano_project, recent_stack, tmp_path_factory):
    """The job run once with the sync log; the warehouse's query function and the store."""
    folder = tmp_path_factory.mktemp("dbt-sync-log")
    store = write_store(folder / ".target-refiner")
    warehouse = folder / "warehouse.duckdb"
    env = {
        **tap_env(recent_stack, "dbt-sync-log"),
        "TAP_REFINER_SYNC_LOG_STORE": str(store),
        "TARGET_DUCKDB_FILEPATH": str(warehouse),
        "DBT_DUCKDB_PATH": str(warehouse),
        "REFINER_USING_SYNC_LOG": "true",
    }
    meltano_project.run("--environment=demo", "run", "refiner-to-duckdb", env=env)
    return query_file(warehouse), store


def test_sync_errors_mart_counts_what_the_store_holds(built):
    check_errors_mart(*built)


def test_staging_holds_one_row_per_run_change_and_snapshot_key(built):
    check_staging(*built)
