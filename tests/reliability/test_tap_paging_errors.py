"""A broken listing is an error, never a silent stop: a cursor that comes back, endless empty
pages. The real tap process reads through a proxy that breaks ``/segments`` that way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.tap_processes import records_of, sync
from tests.reliability.target_processes import BreakingProxy

SECRET_CURSOR = "c2VjcmV0LWN1cnNvcg"  # noqa: S105 - a cursor the logs must never show


def tap_segments(emu, tmp_path: Path, rule) -> subprocess.CompletedProcess[str]:
    with BreakingProxy(emu.base_url, rule) as proxy:
        config = {"api_key": emu.api_key, "api_url": proxy.url + "/v1"}
        return sync(config, ["segments"], tmp_path / "tap")


def page(items: list[dict], cursor: str | None) -> tuple[int, str, str]:
    body = {"items": items, "pagination": {"next_page_cursor": cursor, "current_page": 1}}
    return 200, "application/json", json.dumps(body)


SEGMENT = {"uuid": "s-1", "name": "Loop", "is_manual": True}


@pytest.mark.parametrize("pattern", ["alternating", "the same every time"])
def test_a_cursor_that_comes_back_fails_the_run_without_showing_it(emulator, tmp_path, pattern):
    def rule(_method, path, n):
        if path != "/v1/segments":
            return None
        cursor = SECRET_CURSOR if n % 2 or pattern != "alternating" else "other"
        return page([{**SEGMENT, "uuid": f"s-{n}"}], cursor)

    result = tap_segments(emulator, tmp_path, rule)
    assert result.returncode != 0
    assert "cursor (***) it had already returned" in result.stderr
    assert SECRET_CURSOR not in result.stderr


def test_endless_empty_pages_fail_the_run(emulator, tmp_path):
    def rule(_method, path, n):
        return page([], f"cursor-{n}") if path == "/v1/segments" else None

    result = tap_segments(emulator, tmp_path, rule)
    assert result.returncode != 0
    assert "empty pages in a row" in result.stderr


def test_empty_pages_with_a_cursor_are_followed_to_the_rows_behind_them(emulator, tmp_path):
    def rule(_method, path, n):
        if path != "/v1/segments":
            return None
        if n < 6:  # a few empty pages, then a real one, then the end
            return page([], f"cursor-{n}")
        return page([SEGMENT], None)

    result = tap_segments(emulator, tmp_path, rule)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [r["uuid"] for r in records_of(result.stdout)["segments"]] == ["s-1"]


def refiner_api_paginate(emu, rule) -> subprocess.CompletedProcess[str]:
    """``refiner-api GET /v1/segments --paginate`` through the breaking proxy."""
    cli = str(Path(sys.executable).with_name("refiner-api"))
    with BreakingProxy(emu.base_url, rule) as proxy:
        return subprocess.run(
            [cli, "GET", "/v1/segments", "--paginate", "--api-url", proxy.url + "/v1"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "REFINER_API_KEY": emu.api_key},
        )


def test_refiner_api_paginate_follows_empty_pages_and_refuses_loops(emulator):
    def empty_then_rows(_method, path, n):
        if path != "/v1/segments":
            return None
        return page([], f"cursor-{n}") if n < 4 else page([SEGMENT], None)

    ok = refiner_api_paginate(emulator, empty_then_rows)
    assert ok.returncode == 0, ok.stderr
    assert "s-1" in ok.stdout

    def loop(_method, path, _n):
        return page([SEGMENT], SECRET_CURSOR) if path == "/v1/segments" else None

    looping = refiner_api_paginate(emulator, loop)
    assert looping.returncode != 0
    assert "already returned" in looping.stderr
    assert SECRET_CURSOR not in looping.stderr
