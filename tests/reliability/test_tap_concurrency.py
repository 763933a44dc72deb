"""The tap's requests run ahead, and nothing is lost: a run killed mid-way, an untidy slow API.

Real ``tap-refiner`` processes against the real emulator, with its default
``max_concurrent_requests``. A run killed with ``-9`` while windows and report days are in
flight is resumed from the last STATE it wrote (what Meltano would keep): the two runs together
hold every row a clean run writes. The worst untidy API (empty pages with cursors, no
``last_page``, plain timestamps) with latency, timeouts, resets, 429s and 5xx loses nothing.
"""

from __future__ import annotations

import json
import signal
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from tests.reliability.tap_processes import TAP, records_of, sync

if TYPE_CHECKING:
    from pathlib import Path

STREAMS = ["responses", "answers", "reports"]
SETTINGS: dict[str, Any] = {
    "start_date": "2026-03-01T00:00:00Z",
    "responses_window_days": 7,  # ~40 windows: many in flight at once
    "page_length": 50,
    "reports_days": 10,
    "report_types": ["nps", "csat"],
    "request_timeout": 2,
}
KEYS = {
    "responses": ("uuid",),
    "answers": ("response_uuid", "question_id"),
    "reports": ("form_uuid", "type", "date"),
}


def row_keys(records: dict[str, list[dict]]) -> dict[str, set[tuple]]:
    """Each stream's rows by primary key."""
    return {
        stream: {tuple(r[k] for k in KEYS[stream]) for r in records.get(stream, [])}
        for stream in STREAMS
    }


def clean_run(emu, tmp_path: Path) -> tuple[dict[str, set[tuple]], Path]:
    """A complete run; returns its rows and the file prefix of its config and catalog."""
    config = {"api_key": emu.api_key, "api_url": emu.api_url, **SETTINGS}
    files = tmp_path / "tap"
    result = sync(config, STREAMS, files)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = row_keys(records_of(result.stdout))
    assert all(rows.values()), {s: len(v) for s, v in rows.items()}
    return rows, files


def run_until(files: Path, stop_after: tuple[str, str, int]) -> tuple[str, dict]:
    """Run the tap on ``files``' config and catalog; ``kill -9`` it once it has written the
    ``count``-th ``kind`` message of ``stream``. Returns what it wrote and its last STATE."""
    kind, stream, count = stop_after
    command = [
        TAP,
        "--config",
        str(files.with_name(f"{files.name}-config.json")),
        "--catalog",
        str(files.with_name(f"{files.name}-catalog.json")),
    ]
    lines: list[str] = []
    seen = 0
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as tap:
        assert tap.stdout is not None
        for raw in tap.stdout:
            lines.append(raw.decode())
            message = json.loads(raw)
            matches = message["type"] == kind and (
                message.get("stream") == stream
                or stream in message.get("value", {}).get("bookmarks", {})
            )
            seen += matches
            if seen >= count:
                assert tap.poll() is None, "the run ended before it could be killed"
                tap.send_signal(signal.SIGKILL)
                break
        rest = tap.stdout.read().decode()  # what it wrote before dying
        tap.wait(timeout=30)
    assert tap.returncode == -signal.SIGKILL
    written = "".join(lines) + rest
    complete = [line for line in written.splitlines(keepends=True) if line.endswith("\n")]
    states = [json.loads(x)["value"] for x in complete if json.loads(x)["type"] == "STATE"]
    return "".join(complete), states[-1] if states else {}


@pytest.mark.parametrize(
    "stop_after",
    [("STATE", "responses", 3), ("STATE", "answers", 2), ("RECORD", "reports", 1)],
    ids=["in_responses", "in_answers", "in_reports"],
)
def test_a_run_killed_midway_and_resumed_from_its_last_state_misses_nothing(
    emu, tmp_path, stop_after
):
    clean, files = clean_run(emu, tmp_path)
    emu.configure(latency_ms=150)  # the real API's distance: requests in flight when killed
    killed, state = run_until(files, stop_after)
    emu.configure(latency_ms=0)
    config = json.loads(files.with_name(f"{files.name}-config.json").read_text())
    resumed = sync(config, STREAMS, tmp_path / "resumed", state=state)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    first, second = row_keys(records_of(killed)), row_keys(records_of(resumed.stdout))
    for stream in STREAMS:
        missing = clean[stream] - (first[stream] | second[stream])
        assert not missing, (stream, len(missing))


def test_the_worst_untidy_slow_faulty_api_loses_nothing_with_requests_in_flight(emu, tmp_path):
    clean, files = clean_run(emu, tmp_path)
    config = json.loads(files.with_name(f"{files.name}-config.json").read_text())
    emu.configure(
        empty_pages=True,
        no_last_page=True,
        timestamp_format="plain",
        page_length_default=50,
        latency_ms=40,
    )
    emu.fault(504, count=3, kind="timeout", seconds=3, path="/v1/responses")
    emu.fault(504, count=2, kind="reset", path="/v1/responses")
    emu.fault(429, count=3, retry_after=1, path="/v1/reporting")
    emu.fault(503, count=3, path="/v1/reporting")
    result = sync(config, STREAMS, tmp_path / "worst")
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = [c["status"] for c in emu.calls()]
    assert statuses.count(429) >= 3  # the faults really happened, and were retried
    assert row_keys(records_of(result.stdout)) == clean
