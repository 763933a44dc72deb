"""A listing that ends early with a plain 200 is a failed read, never the whole table.

The emulator's ``end_listings_early`` switch ends every listing after N items (no cursor,
``last_page`` on that page) while ``pagination.items_count`` still says the whole count. The
real ``tap-refiner``, ``refiner-api --paginate`` and ``target-refiner`` (mirror_segment) run
against it; what they emitted and the emulator holds is checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.reliability.audiences import audience, last_seq, member_ids, mirror_config, sync_calls
from tests.reliability.tap_processes import records_of, sync
from tests.reliability.target_processes import BreakingProxy, run_target, states_of

if TYPE_CHECKING:
    from refiner_emulator.testing import EmulatorProcess


def states(stdout: str) -> list[dict[str, Any]]:
    """The tap's STATE values, in order."""
    messages = (json.loads(line) for line in stdout.splitlines() if line.strip())
    return [m["value"] for m in messages if m["type"] == "STATE"]


def short_lines(stderr: str) -> list[str]:
    """The distinct messages saying a listing ended early."""
    lines = [line for line in stderr.splitlines() if " ended after " in line]
    return sorted({line[line.index("Listing ") :] for line in lines})


def tap_config(emu: EmulatorProcess, **settings: Any) -> dict[str, Any]:
    return {"api_key": emu.api_key, "api_url": emu.api_url, "page_length": 20, **settings}


@pytest.mark.parametrize(
    ("stream", "cut", "emitted"),
    [
        ("contacts", 50, 50),  # rows go out page by page, then the run stops
        ("segments", 3, 3),
        ("forms", 3, 0),  # the shared listing is read whole before its first row
    ],
)
def test_a_full_table_listing_that_ends_early_fails_the_run(emu, tmp_path, stream, cut, emitted):
    path = f"/{stream}"
    params = {"list": "all_with_archived"} if stream == "forms" else {}
    total = len(emu.api.items(path, **params))
    assert total > cut
    emu.configure(end_listings_early=cut)
    result = sync(tap_config(emu), [stream], tmp_path / stream)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr  # a known stop: one line
    [line] = short_lines(result.stderr)
    assert f"Listing {path}" in line
    assert f"ended after {cut} items, but its pages' pagination.items_count said {total}" in line
    assert len(records_of(result.stdout).get(stream, [])) == emitted
    assert all(stream not in state["bookmarks"] for state in states(result.stdout))


def test_a_listing_that_ends_early_on_an_empty_page_fails_too(emu, tmp_path):
    """With empty pages between the real ones, the listing's last page is an empty one."""
    total = len(emu.api.items("/contacts"))
    emu.configure(end_listings_early=50, empty_pages=True)
    result = sync(tap_config(emu), ["contacts"], tmp_path / "empty")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr  # a known stop: one line
    [line] = short_lines(result.stderr)
    assert f"ended after 50 items, but its pages' pagination.items_count said {total}" in line
    assert all("contacts" not in state["bookmarks"] for state in states(result.stdout))


def test_a_segment_whose_member_listing_ends_early_gets_no_bookmark(emu, tmp_path):
    """``segment_memberships``: no STATE may say that segment was read (the next run would skip)."""
    tidy = sync(tap_config(emu), ["segments", "segment_memberships"], tmp_path / "tidy")
    assert tidy.returncode == 0, tidy.stderr[-2000:]
    sizes = {
        s["uuid"]: len(emu.api.items("/contacts", segment_uuid=s["uuid"]))
        for s in emu.api.items("/segments")
    }
    short = [uuid for uuid, size in sizes.items() if size > 30]
    assert short
    emu.configure(end_listings_early=30)
    result = sync(tap_config(emu), ["segments", "segment_memberships"], tmp_path / "short")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr  # a known stop: one line
    [line] = short_lines(result.stderr)
    first = line.split("segment_uuid=")[1].split(")")[0]
    assert first in short
    assert (
        f"ended after 30 items, but its pages' pagination.items_count said {sizes[first]}" in line
    )
    for state in states(result.stdout):
        partitions = state["bookmarks"].get("segment_memberships", {}).get("partitions", [])
        assert all(p["context"]["segment_uuid"] not in short for p in partitions)


def test_a_responses_window_that_ends_early_does_not_move_the_bookmark(emu, tmp_path):
    settings = {"start_date": "2020-01-01T00:00:00Z", "responses_window_days": 5000}
    total = len(emu.api.items("/responses", date_range_start="2020-01-01 00:00:00"))
    assert total > 100
    emu.configure(end_listings_early=100)
    result = sync(tap_config(emu, **settings), ["responses"], tmp_path / "responses")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr  # a known stop: one line
    [line] = short_lines(result.stderr)
    assert line.count("Listing /responses (") == 1  # named with its window's bounds
    assert "ended after 100 items, but its pages' pagination.items_count said" in line
    assert all(not state["bookmarks"].get("responses") for state in states(result.stdout))


def test_rows_deleted_while_paging_are_a_warning_and_the_run_succeeds(emu, tmp_path):
    """Three contacts not read yet are deleted after the first page: the count falls by 3."""
    every = [c["uuid"] for c in emu.api.items("/contacts")]
    doomed = every[-3:]
    pages = {"n": 0}

    def delete_after_the_first_page(method: str, path: str, _n: int) -> None:
        if (method, path) == ("GET", "/v1/contacts"):
            pages["n"] += 1
            if pages["n"] == 2:
                for uuid in doomed:
                    emu.api.ok("DELETE", "/contact", params={"uuid": uuid})

    with BreakingProxy(emu.base_url, delete_after_the_first_page) as proxy:
        config = {**tap_config(emu), "api_url": proxy.url + "/v1"}
        result = sync(config, ["contacts"], tmp_path / "deleted")
    assert result.returncode == 0, result.stderr[-2000:]
    got = [r["uuid"] for r in records_of(result.stdout)["contacts"]]
    assert sorted(got) == sorted(c["uuid"] for c in emu.api.items("/contacts"))
    assert len(got) == len(every) - 3
    [warning] = [line for line in result.stderr.splitlines() if "Listing /contacts gave" in line]
    assert "WARNING" in warning
    total = len(every)
    assert f"gave {total - 3} items, but its pages' pagination.items_count said {total}" in warning
    assert f"(from {total - 3} to {total}): 3 missing, within the 4 " in warning


def test_max_contacts_stops_on_purpose_and_is_not_a_short_read(emu, tmp_path):
    result = sync(tap_config(emu, max_contacts=30), ["contacts"], tmp_path / "max")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(records_of(result.stdout)["contacts"]) == 30
    assert "Listing /contacts" not in result.stderr
    assert [state["bookmarks"] for state in states(result.stdout)] == [{"contacts": {}}]


def test_pages_without_items_count_are_read_as_before(emu, tmp_path):
    emu.configure(no_items_count=True)
    result = sync(tap_config(emu), ["contacts"], tmp_path / "uncounted")
    emu.configure(no_items_count=False)
    assert result.returncode == 0, result.stderr[-2000:]
    got = {r["uuid"] for r in records_of(result.stdout)["contacts"]}
    assert got == {c["uuid"] for c in emu.api.items("/contacts")}


def test_refiner_api_paginate_says_so_in_one_line(emu):
    total = len(emu.api.items("/contacts"))
    emu.configure(end_listings_early=10)
    result = subprocess.run(
        [str(Path(sys.executable).with_name("refiner-api")), "GET", "/v1/contacts", "--paginate"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "REFINER_API_KEY": emu.api_key, "REFINER_API_URL": emu.api_url},
    )
    assert result.returncode != 0
    said = f"ended after 10 items, but its pages' pagination.items_count said {total}"
    why = f"{total - 10} missing, more than the 1 that rows added or deleted while paging explain"
    end = "The API ended the listing early; stopping rather than taking part of it for all of it"
    assert result.stderr.splitlines() == [f"refiner-api: Listing /v1/contacts {said}: {why}. {end}"]


def test_a_mirror_whose_member_read_ends_early_sends_nothing_and_fails(emu, config, tmp_path):
    """Members read short would be re-added and, worse, the diff would run on half a list."""
    segment = emu.add_segment("Churn risk")
    cfg = mirror_config(config, segment)
    first = run_target(cfg, audience(range(1, 41)), tmp_path, "first")
    assert first.returncode == 0, first.stderr[-2000:]
    seq = last_seq(emu)
    emu.configure(end_listings_early=10)
    result = run_target(cfg, audience(range(1, 31)), tmp_path, "short")  # 10 leave
    emu.configure(end_listings_early=0)
    assert result.returncode == 1
    assert sync_calls(emu, seq) == []
    assert states_of(result.stdout) == []
    assert member_ids(emu, segment) == set(range(1, 41))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert f"Cannot read the members of segment {segment}" in lines[-1]
    assert "ended after 10 items, but its pages' pagination.items_count said 40" in lines[-1]
    assert "Traceback" not in result.stderr
