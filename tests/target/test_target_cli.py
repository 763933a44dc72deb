"""The console script: --about docs, progress and summary logs, settings errors, no secrets."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.local_http import closed_port_url
from tests.target.target_helpers import FIXTURES, target_cmd

RUN_ID_LINE = re.compile(r"Run id (\d{8}T\d{6}Z-[0-9a-f]{6}): ")
SETTINGS = [
    "api_key",
    "api_url",
    "mappings",
    "default_action",
    "max_concurrency",
    "max_requests_per_minute",
    "max_requests_per_user_per_minute",
    "max_tries",
    "request_timeout",
    "state_dir",
    "dead_letter_path",
    "full_resend",
    "dry_run",
    "dry_run_path",
    "truncate_long_strings",
    "max_reject_ratio",
    "progress_interval_seconds",
]


def test_about_markdown_documents_every_setting():
    out = subprocess.run(
        [*target_cmd(), "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    for name in SETTINGS:
        assert name in rows, name
        description = rows[name].split("|")[4].strip()
        assert len(description) > 20, name


def run_cli(config, tmp_path, fixture="users.singer"):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [*target_cmd(), "--config", str(path), "--input", str(FIXTURES / fixture)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_progress_summary_and_no_secret_in_logs(emu, config, tmp_path):
    emu.configure(latency_ms=700)
    result = run_cli({**config, "progress_interval_seconds": 0.5}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Progress: " in result.stderr
    assert "calls/s" in result.stderr
    assert (
        "Summary for stream 'users': 5 rows in, 3 sent, 0 skipped unchanged, "
        "0 skipped as replays, 2 rejected"
    ) in result.stderr
    assert emu.api_key not in result.stderr
    assert emu.api_key not in result.stdout
    assert [json.loads(line) for line in result.stdout.splitlines()][-1] == {
        "bookmarks": {"users": {"n": 5}}
    }


def test_invalid_settings_exit_before_any_call(emu, config, tmp_path):
    bad = {**config, "mappings": {"users": {"action": "track", "user_id": "id"}}}
    result = run_cli(bad, tmp_path)
    assert result.returncode == 1
    assert "mappings.users" in result.stderr
    assert "event_name" in result.stderr
    assert emu.calls() == []


def test_dry_run_logs_counts(emu, config, tmp_path):
    result = run_cli({**config, "dry_run": True}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Dry run: 3 calls written to" in result.stderr
    assert result.stdout == ""
    assert [c["path"] for c in emu.calls()] == ["/v1/"]  # only the read-only key check


def test_unreachable_api_url_stops_with_one_sentence(config, tmp_path):
    url = closed_port_url()
    result = run_cli({**config, "api_url": url, "max_tries": 2}, tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].endswith(
        f"Cannot use `api_url` {url}: Could not reach Refiner at {url.removesuffix('/v1')} "
        "(GET /v1/): connection refused; gave up after 2 tries (setting `max_tries`)."
    )
    assert "Max retries exceeded" not in result.stderr
    assert "Traceback" not in result.stderr
    assert config["api_key"] not in result.stderr


def _run_id(stderr: str) -> str:
    (run_id,) = RUN_ID_LINE.findall(stderr)
    return run_id


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_dry_run_file_holds_that_runs_calls_only_and_says_would_send(emu, config, tmp_path):
    dry = {**config, "dry_run": True}
    first = run_cli(dry, tmp_path)
    second = run_cli(dry, tmp_path)
    assert first.returncode == second.returncode == 0, second.stderr
    calls = _lines(Path(config["state_dir"]) / "dry-run.jsonl")
    assert len(calls) == 3  # the second run's 3 calls, not 6
    assert {c["run_id"] for c in calls} == {_run_id(second.stderr)} != {_run_id(first.stderr)}
    assert "Summary for stream 'users': 5 rows in, would send 3, 0 skipped" in second.stderr
    assert " sent," not in second.stderr
    assert [c["path"] for c in emu.calls()] == ["/v1/", "/v1/"]  # key checks only


def test_dead_letter_lines_carry_the_run_id_of_their_run(config, tmp_path):
    first = run_cli(config, tmp_path)
    second = run_cli(config, tmp_path)
    assert first.returncode == second.returncode == 0, second.stderr
    rejected = _lines(Path(config["state_dir"]) / "dead-letter.jsonl")  # appended across runs
    runs = [_run_id(first.stderr), _run_id(second.stderr)]
    assert runs[0] != runs[1]
    assert [line["run_id"] for line in rejected] == [runs[0]] * 2 + [runs[1]] * 2
    assert {line["record"]["id"] for line in rejected} == {"u3", "u4"}
