"""The dbt package on DuckDB through real Meltano: ``meltano run refiner-to-duckdb``, twice.

The job is tap-refiner target-duckdb dbt-duckdb:build against an emulator whose data ends now.
The marts are compared with what the emulator holds (counts per NPS group and CSAT score, every
survey-day's figures, NPS per survey-day against Refiner's reports, the audience). The second
run re-extracts everything (``--full-refresh``: every response upserted again) and builds again:
the marts are unchanged, and an answer row marked deleted in between is left out.
target-duckdb (duckdb 1.2.2) and dbt-duckdb (a later duckdb) take turns on one file, so the
second run also proves each reads and writes what the other wrote.
"""

from __future__ import annotations

import duckdb
import pytest

from tests.dbt.conftest import tap_env
from tests.dbt.expected import expected_from
from tests.dbt.marts import check_all, snapshot

pytestmark = pytest.mark.meltano

JOB = ("--environment=demo", "run", "refiner-to-duckdb")


@pytest.fixture(scope="module")
def built(meltano_project, recent_stack, tmp_path_factory):
    """The job run once; the warehouse file and the environment of the run."""
    warehouse = tmp_path_factory.mktemp("dbt-duckdb") / "warehouse.duckdb"
    env = {
        **tap_env(recent_stack, "dbt-duckdb"),
        "TARGET_DUCKDB_FILEPATH": str(warehouse),
        "DBT_DUCKDB_PATH": str(warehouse),
    }
    meltano_project.run(*JOB, env=env)
    return warehouse, env


def query_file(path):
    def query(sql: str) -> list[tuple]:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(sql).fetchall()

    return query


def test_marts_hold_what_the_emulator_holds(built, recent_stack):
    warehouse, _ = built
    query = query_file(warehouse)
    check_all(query, expected_from(recent_stack.client), None)
    types = dict(
        query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'refiner_analytics' AND table_name = 'refiner__survey_daily'"
        )
    )
    assert (types["survey_date"], types["promoters"]) == ("DATE", "INTEGER")
    staged = dict(
        query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'refiner_analytics' AND table_name = 'stg_refiner__responses'"
        )
    )
    assert staged["completed_at"] == "TIMESTAMP WITH TIME ZONE"
    assert staged["show_count"] == "INTEGER"


def test_second_run_reextracts_and_changes_nothing(built, meltano_project):
    warehouse, env = built
    query = query_file(warehouse)
    before = snapshot(query)
    batched = query("SELECT max(_sdc_batched_at) FROM refiner.responses")[0][0]
    # A row a target marked deleted (ACTIVATE_VERSION) stays in the table; staging leaves it out.
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "INSERT INTO refiner.answers BY NAME SELECT * REPLACE ('deleted-response' AS "
            "response_uuid, CAST(now() AS VARCHAR) AS _sdc_deleted_at) FROM refiner.answers LIMIT 1"
        )

    meltano_project.run("--environment=demo", "run", "--full-refresh", "refiner-to-duckdb", env=env)

    responses, reloaded = query(
        "SELECT count(*), count(*) FILTER (WHERE _sdc_batched_at > "  # noqa: S608 - a timestamp
        f"TIMESTAMP '{batched}') FROM refiner.responses"
    )[0]
    assert reloaded == responses > 0  # every response extracted and upserted again
    assert snapshot(query) == before


def test_sync_log_models_are_off_by_default(built):
    # No sync_log_store and no using_sync_log: the tap reads no sync log, and dbt builds none of
    # the sync-log models (the job, dbt build included, succeeded).
    warehouse, _ = built
    query = query_file(warehouse)
    assert (
        query(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%sync%'"
            " AND table_schema = 'refiner_analytics'"
        )
        == []
    )
