"""What a newcomer reads on the tap's stderr: the closing summary and the window lines.

A real ``tap-refiner`` process against the emulator: the summary's counts are checked against
the RECORD messages it wrote, the requests the emulator received and the final STATE.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from tests.local_http import closed_port_url
from tests.reliability.tap_processes import sync
from tests.tap.taprun import tap_config

if TYPE_CHECKING:
    from pathlib import Path

STREAMS = ["contacts", "responses", "answers", "forms", "segment_memberships"]
SUMMARY_LINE = re.compile(
    r"Summary for stream '(?P<stream>\w+)': (?P<records>\d+) records?, "
    r"(?P<requests>\d+) requests?, (?P<pages>\d+) pages? in [\d.]+s; (?P<bookmark>.+)$"
)
TOTAL_LINE = re.compile(
    r"Summary: (?P<records>\d+) records?, (?P<requests>\d+) requests?, (?P<pages>\d+) pages? "
    r"in [\d.]+s from (?P<streams>\d+) streams"
)
MOMENT = r"\d{4}-\d\d-\d\d(?: \d\d:\d\d:\d\d)?"
WINDOW_LINE = re.compile(rf"\| (\w+): ({MOMENT}) \.\. ({MOMENT}), (\d+) responses$")


def _messages(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line]


def _summaries(stderr: str) -> dict[str, dict[str, str]]:
    found = {}
    for line in stderr.splitlines():
        match = SUMMARY_LINE.search(line)
        if match:
            found[match["stream"]] = match.groupdict()
    return found


def _run(emu, tmp_path: Path, **settings: Any) -> tuple[list[dict[str, Any]], str]:
    config = tap_config(emu, **settings)
    proc = sync(config, STREAMS, tmp_path / "run")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return _messages(proc.stdout), proc.stderr


def test_summary_counts_records_requests_and_the_final_bookmark(emu, tmp_path):
    emu.fault(503, count=1, path="/v1/contacts")  # one retry: one request more than pages
    messages, stderr = _run(emu, tmp_path, start_date="2025-01-01T00:00:00Z", page_length=100)
    records = Counter(m["stream"] for m in messages if m["type"] == "RECORD")
    bookmarks = [m for m in messages if m["type"] == "STATE"][-1]["value"]["bookmarks"]
    summaries = _summaries(stderr)

    assert set(summaries) == set(STREAMS) | {"segments"}  # the parent of segment_memberships
    for stream in STREAMS:
        assert int(summaries[stream]["records"]) == records[stream] > 0, stream
    assert summaries["segments"]["records"] == "0"  # read for its child, not selected

    # /contacts is read by contacts, and per segment (segment_uuid=) by segment_memberships.
    requests = Counter(
        "members" if "segment_uuid" in c["params"] else c["path"] for c in emu.calls()
    )
    assert int(summaries["contacts"]["requests"]) == requests["/v1/contacts"] == 1 + 300 // 100
    assert int(summaries["contacts"]["pages"]) == requests["/v1/contacts"] - 1
    assert int(summaries["segment_memberships"]["requests"]) == requests["members"]
    # responses and answers read /responses once between them (the windows are shared).
    read = int(summaries["responses"]["requests"]) + int(summaries["answers"]["requests"])
    assert read == requests["/v1/responses"]
    assert sum(int(s["requests"]) for s in summaries.values()) == len(emu.calls())

    state = bookmarks["responses"]
    assert summaries["responses"]["bookmark"] == (
        f"bookmark last_data_reception_at = {state['replication_key_value']}"
    )
    partitions = bookmarks["segment_memberships"]["partitions"]
    latest = max(p["replication_key_value"] for p in partitions)
    assert summaries["segment_memberships"]["bookmark"] == (
        f"bookmarks for {len(partitions)} partitions, latest entered_at = {latest}"
    )
    assert summaries["contacts"]["bookmark"] == "no bookmark"

    (total,) = [m for m in map(TOTAL_LINE.search, stderr.splitlines()) if m]
    assert int(total["records"]) == sum(records.values())
    assert int(total["requests"]) == len(emu.calls())
    assert total["streams"] == str(len(STREAMS) + 1)


def test_window_lines_in_words_and_no_pagination_stopped(emu, tmp_path):
    # Two years of 30-day windows: most are empty (the emulator's responses are recent).
    messages, stderr = _run(emu, tmp_path, start_date="2025-01-01T00:00:00Z")
    assert "Pagination stopped" not in stderr
    assert "{'date_range_start'" not in stderr  # windows are not logged as Python dicts

    windows = [m.groups() for m in map(WINDOW_LINE.search, stderr.splitlines()) if m]
    for stream in ("responses", "answers"):
        lines = [w for w in windows if w[0] == stream]
        assert lines[0][1] == "2025-01-01"
        assert [w[1] for w in lines[1:]] == [w[2] for w in lines[:-1]]  # consecutive, in order
        assert any(w[3] == "0" for w in lines)  # empty windows are plain lines too
    responses = [m for m in messages if m["type"] == "RECORD" and m["stream"] == "responses"]
    assert sum(int(w[3]) for w in windows if w[0] == "responses") == len(responses)


def test_unreachable_api_ends_in_one_sentence(emu, tmp_path):
    url = closed_port_url()
    config = {**tap_config(emu), "api_url": url, "max_tries": 2}
    proc = sync(config, ["contacts"], tmp_path / "run")
    assert proc.returncode != 0
    assert (
        f"Could not reach Refiner at {url.removesuffix('/v1')} (GET /v1/contacts): "
        "connection refused; gave up after 2 tries (setting `max_tries`)."
    ) in proc.stderr
    assert "Max retries exceeded" not in proc.stderr
    assert emu.api_key not in proc.stderr
