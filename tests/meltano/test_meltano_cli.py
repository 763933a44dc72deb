"""What ``meltano`` itself shows about the project: settings, schedules, jobs, config layering."""

from __future__ import annotations

import json

import pytest

from scripts.hub_definitions import about

pytestmark = pytest.mark.meltano


@pytest.mark.parametrize("plugin", ["tap-refiner", "target-refiner"])
def test_config_list_shows_every_setting_of_the_plugin(meltano_project, plugin):
    listed = meltano_project.run("config", "list", plugin, "--all").stdout
    env_prefix = plugin.upper().replace("-", "_")
    for name in about(plugin)["settings"]["properties"]:
        assert f"{name} [env: {env_prefix}_{name.upper()}]" in listed, name


def test_schedules_and_jobs_are_listed(meltano_project):
    schedules = meltano_project.run("schedule", "list").stdout
    assert "[@hourly] job refiner-to-duckdb-hourly: refiner-to-duckdb" in schedules
    assert "[@daily] job warehouse-reverse-sync-daily: warehouse-reverse-sync" in schedules
    jobs = meltano_project.run("job", "list").stdout
    assert "refiner-to-duckdb: ['tap-refiner target-duckdb', 'dbt-duckdb:build']" in jobs
    assert "warehouse-reverse-sync: ['tap-postgres target-refiner']" in jobs
    assert (
        "demo-reverse-sync: ['tap-jsonl--users target-refiner', 'tap-jsonl--events target-refiner']"
        in jobs
    )
    closed_loop = (
        "tap-refiner target-postgres dbt-postgres:build tap-postgres--audience target-refiner"
    )
    assert f"warehouse-closed-loop: ['{closed_loop}']" in jobs


def test_environments_point_at_emulator_or_real_api(meltano_project):
    demo = json.loads(
        meltano_project.run(
            "--environment=demo", "config", "--unsafe", "print", "tap-refiner"
        ).stdout
    )
    assert demo["api_key"] == "demo-key"
    assert demo["api_url"].startswith("http://127.0.0.1:")
    overridden = json.loads(
        meltano_project.run(
            "--environment=demo",
            "config",
            "print",
            "target-refiner",
            env={"TARGET_REFINER_API_URL": "http://127.0.0.1:1/v1"},
        ).stdout
    )
    assert overridden["api_url"] == "http://127.0.0.1:1/v1"
    assert overridden["mappings"]["events"]["action"] == "track"
    prod = json.loads(
        meltano_project.run(
            "--environment=prod",
            "config",
            "--unsafe",
            "print",
            "tap-refiner",
            env={"REFINER_API_KEY": "from-the-environment"},
        ).stdout
    )
    assert prod["api_url"] == "https://api.refiner.io/v1"
    assert prod["api_key"] == "from-the-environment"
