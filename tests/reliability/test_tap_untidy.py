"""The tap against an API less tidy than its documentation, each variant and all at once.

Every run is the real ``tap-refiner`` process against the real emulator; what it emitted is
compared with what the emulator holds, read page by page (``emu.api``) while the
emulator is tidy. No row may be missing, under any variant."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from tests.reliability.tap_processes import records_of, sync

if TYPE_CHECKING:
    from pathlib import Path

STREAMS = ["contacts", "responses", "segments", "forms", "reports"]
VARIANTS = {
    "empty_pages": {"empty_pages": True},
    "no_last_page": {"no_last_page": True},
    "offset_cursors": {"offset_cursors": True},
    "reporting_end_inclusive": {"reporting_end_inclusive": True},
    "plain_timestamps_and_50_per_page": {"timestamp_format": "plain", "page_length_default": 50},
}
WORST = {k: v for variant in VARIANTS.values() for k, v in variant.items()}


def ground_truth(emu, path: str, **params) -> list[dict]:
    """Every item of a listing, by page number, from the tidy emulator."""
    items: list[dict] = []
    page = 1
    while True:
        body = emu.api.ok("GET", path, params={"page_length": 1000, "page": page, **params})
        items += body["items"]
        if page >= body["pagination"]["last_page"]:
            return items
        page += 1


def run_tap(emu, tmp_path: Path, name: str, **settings) -> dict[str, list[dict]]:
    """The tap as a subprocess with every STREAMS stream selected; records by stream."""
    config = {
        "api_key": emu.api_key,
        "api_url": emu.api_url,
        "page_length": 7,  # many pages, so paging variants matter
        "reports_days": 3,
        "report_types": ["nps"],
        "request_timeout": 2,
        **settings,
    }
    result = sync(config, STREAMS, tmp_path / name)
    assert result.returncode == 0, result.stderr[-3000:]
    return {stream: records_of(result.stdout).get(stream, []) for stream in STREAMS}


@pytest.fixture(scope="module")
def truth(emulator, tmp_path_factory):
    """What the emulator holds, and the tidy run's report rows, for comparison."""
    emulator.reset(data=True, config=True)
    tidy = run_tap(emulator, tmp_path_factory.mktemp("tidy"), "tidy")
    return {
        "contacts": {c["uuid"] for c in ground_truth(emulator, "/contacts")},
        "responses": {r["uuid"] for r in ground_truth(emulator, "/responses")},
        "segments": {s["uuid"] for s in ground_truth(emulator, "/segments")},
        "forms": {f["uuid"] for f in ground_truth(emulator, "/forms", list="all_with_archived")},
        "reports": sorted(map(json.dumps, tidy["reports"])),
    }


def check_complete(records: dict[str, list[dict]], truth: dict) -> None:
    for stream in ("contacts", "responses", "segments", "forms"):
        got = {r["uuid"] for r in records[stream]}
        assert got == truth[stream], (stream, len(truth[stream] - got), len(got - truth[stream]))
    assert truth["reports"], "the tidy run produced report rows"
    assert sorted(map(json.dumps, records["reports"])) == truth["reports"]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_untidy_variant_loses_nothing(emulator, truth, tmp_path, variant):
    emulator.reset(config=True)
    emulator.configure(**VARIANTS[variant])
    try:
        check_complete(run_tap(emulator, tmp_path, variant), truth)
    finally:
        emulator.reset(config=True)


def test_the_worst_combination_with_timeouts_and_resets_loses_nothing(emulator, truth, tmp_path):
    emulator.reset(config=True)
    emulator.configure(**WORST)
    emulator.fault(504, count=2, kind="timeout", seconds=3, path="/v1/contacts")
    emulator.fault(504, count=2, kind="reset", path="/v1/responses")
    try:
        records = run_tap(emulator, tmp_path, "worst")
        paths = [c["path"] for c in emulator.calls()]
    finally:
        emulator.reset(config=True)
    check_complete(records, truth)
    assert paths.count("/v1/contacts") > len(truth["contacts"]) // 7  # retried, then paged on


def test_first_run_without_start_date_or_last_page_reads_every_response(emulator, tmp_path):
    emulator.reset(data=True, config=True)
    every = {r["uuid"] for r in ground_truth(emulator, "/responses", include="all")}
    emulator.configure(no_last_page=True, empty_pages=True)
    try:
        records = run_tap(emulator, tmp_path, "all", responses_include="all")
    finally:
        emulator.reset(config=True)
    assert {r["uuid"] for r in records["responses"]} == every
