"""The demo samples (demo/) reach Refiner only in the ``demo`` environment.

A job or schedule run in ``prod`` or ``warehouse`` talks to the real API, so no plugin it runs
may be configured with a file under demo/ (the demo's made-up users and events), whether the
path comes from the plugin, the plugin it inherits from, or the environment. The static check
needs no Meltano; the refusal tests run the real one.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.meltano.meltano_helpers import ROOT

DEMO_PATH = re.compile(r"(^|/)demo(/|$)")
PROJECT_ROOT = re.compile(r"\$\{?MELTANO_PROJECT_ROOT\}?")


def load_project() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))


def strings(value: Any) -> list[str]:
    """Every string inside a YAML value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def plugins_by_name(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for kind in project["plugins"].values() for p in kind}


def lineage(project: dict[str, Any], name: str) -> list[str]:
    """The plugin and every plugin it inherits from."""
    plugins = plugins_by_name(project)
    names = [name]
    while parent := plugins[names[-1]].get("inherit_from"):
        names.append(parent)
    return names


def environment(project: dict[str, Any], name: str | None) -> dict[str, Any]:
    found = [e for e in project.get("environments", []) if e["name"] == name]
    return found[0] if found else {}


def plugin_values(project: dict[str, Any], env_name: str | None, plugin: str) -> list[str]:
    """Every string a run of ``plugin`` in environment ``env_name`` is configured with."""
    plugins = plugins_by_name(project)
    env = environment(project, env_name)
    env_plugins = [p for kind in env.get("config", {}).get("plugins", {}).values() for p in kind]
    values = strings(env.get("env", {}))
    for name in lineage(project, plugin):
        values += strings([plugins[name].get("config", {}), plugins[name].get("env", {})])
        for override in (p for p in env_plugins if p["name"] == name):
            values += strings([override.get("config", {}), override.get("env", {})])
    return values


def task_plugins(task: str | list[str]) -> list[str]:
    """Plugin names of one job task (``tap target``, ``dbt:run`` or a list of them)."""
    words = task.split() if isinstance(task, str) else [w for t in task for w in t.split()]
    return [word.split(":")[0] for word in words]


def runs(project: dict[str, Any]) -> dict[str, list[str]]:
    """Every job and schedule, and the plugins it runs."""
    jobs = {
        f"job {j['name']}": [p for t in j["tasks"] for p in task_plugins(t)]
        for j in project.get("jobs", [])
    }
    found = dict(jobs)
    for schedule in project.get("schedules", []):
        if "job" in schedule:
            found[f"schedule {schedule['name']}"] = jobs[f"job {schedule['job']}"]
        else:
            names = [schedule.get(key) for key in ("extractor", "loader", "transform")]
            found[f"schedule {schedule['name']}"] = [
                n for n in names if n in plugins_by_name(project)
            ]
    return found


def demo_files_read(project: dict[str, Any], env_name: str | None) -> list[str]:
    """``'<job or schedule>: <plugin> reads <value>'`` for each demo/ path outside the demo."""
    return [
        f"{run}: {plugin} reads {value}"
        for run, plugins in runs(project).items()
        for plugin in plugins
        for value in plugin_values(project, env_name, plugin)
        if DEMO_PATH.search(PROJECT_ROOT.sub("", value))
    ]


def real_environments(project: dict[str, Any]) -> list[str | None]:
    """Every environment but ``demo``, and no environment at all (base config only)."""
    return [None, *(e["name"] for e in project["environments"] if e["name"] != "demo")]


def test_no_job_or_schedule_outside_the_demo_reads_the_demo_samples():
    project = load_project()
    assert {"prod", "warehouse"} <= set(real_environments(project))
    for env_name in real_environments(project):
        assert demo_files_read(project, env_name) == [], env_name


def test_the_demo_environment_still_reads_them():
    project = load_project()
    read = demo_files_read(project, "demo")
    assert (
        "job demo-reverse-sync: tap-jsonl--users reads $MELTANO_PROJECT_ROOT/demo/users.jsonl"
        in read
    )
    assert (
        "job demo-reverse-sync: tap-jsonl--events reads $MELTANO_PROJECT_ROOT/demo/events.jsonl"
        in read
    )


def test_the_check_sees_a_demo_path_inherited_into_a_prod_schedule():
    """The old layout: the samples' path on the plugin itself, the job scheduled daily."""
    project = yaml.safe_load(
        """
        plugins:
          extractors:
          - {name: tap-jsonl, config: {encoding: utf-8}}
          - {name: tap-jsonl--users, inherit_from: tap-jsonl,
             config: {path: $MELTANO_PROJECT_ROOT/demo/users.jsonl}}
          loaders:
          - {name: target-refiner}
        environments:
        - {name: demo}
        - {name: prod, config: {plugins: {loaders: [{name: target-refiner}]}}}
        jobs:
        - {name: reverse-sync, tasks: [tap-jsonl--users target-refiner]}
        schedules:
        - {name: reverse-sync-daily, interval: '@daily', job: reverse-sync}
        """
    )
    users = "tap-jsonl--users reads $MELTANO_PROJECT_ROOT/demo/users.jsonl"
    assert demo_files_read(project, "prod") == [
        f"job reverse-sync: {users}",
        f"schedule reverse-sync-daily: {users}",
    ]


# One line per missing variable, before any plugin starts (`ff.strict_env_var_mode`).
REFUSALS = [
    (("run", "warehouse-reverse-sync"), "PGHOST"),
    (("schedule", "run", "warehouse-reverse-sync-daily"), "PGHOST"),
    (("run", "refiner-to-duckdb"), "REFINER_API_KEY"),
]


@pytest.mark.meltano
@pytest.mark.parametrize(("command", "variable"), REFUSALS)
def test_prod_without_configuration_refuses_in_one_line(meltano_project, command, variable):
    result = meltano_project.run("--environment=prod", *command, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    errors = [line for line in output.splitlines() if "[error" in line]
    message = f"Environment variable '{variable}' referenced but not set."
    assert len(errors) == 1, output
    assert message in errors[0]
    assert "Traceback" not in output
    assert message in (ROOT / "README.md").read_text(encoding="utf-8")
