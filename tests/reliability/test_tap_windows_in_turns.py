"""``responses`` and ``answers`` written in turns from one read of each window (issue 18).

Both selected with equal bookmarks, each window is read once and both streams write it before
the next (``shared_windows.Lockstep``), so the run keeps no more than the windows read ahead on
disk. What each stream writes must be exactly what it writes when synced alone (today's path,
reading every window itself): the same records in the same order and the same bookmarks, on
every untidy variant of the API, and when their bookmarks differ. Real tap processes, real
emulator."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tap_refiner.timestamps import parse
from tests.reliability.tap_processes import records_of, sync
from tests.reliability.test_tap_untidy import VARIANTS, WORST

if TYPE_CHECKING:
    from pathlib import Path

BOTH = ["responses", "answers"]


def tap(emu, tmp_path: Path, name: str, streams: list[str], state=None) -> dict[str, Any]:
    """One tap run: its records and bookmark progression by stream, and its /responses reads."""
    config = {
        "api_key": emu.api_key,
        "api_url": emu.api_url,
        "page_length": 7,
        "responses_window_days": 20,
        "request_timeout": 2,
        "start_date": "2025-06-01T00:00:00Z",
    }
    before = len(emu.calls(path="/v1/responses"))
    result = sync(config, streams, tmp_path / name, state=state)
    assert result.returncode == 0, result.stderr[-3000:]
    reads = len(emu.calls(path="/v1/responses")) - before
    return {
        "records": records_of(result.stdout),
        "bookmarks": bookmarks(result.stdout),
        "reads": reads,
    }


def bookmarks(stdout: str) -> dict[str, list[Any]]:
    """Each stream's bookmark as it moved, STATE by STATE (repeats dropped)."""
    moves: dict[str, list[Any]] = {}
    for line in stdout.splitlines():
        message = json.loads(line)
        if message["type"] != "STATE":
            continue
        for stream, value in message["value"].get("bookmarks", {}).items():
            mark = (value.get("replication_key"), value.get("replication_key_value"))
            if mark == (None, None):  # begun, nothing read yet: the other stream's STATE shows it
                continue
            if not moves.get(stream) or moves[stream][-1] != mark:
                moves.setdefault(stream, []).append(mark)
    return moves


def same_but_the_last(marks: list[Any], other: list[Any]) -> None:
    """Equal progressions; the last window ends at each run's own start ("now")."""
    assert len(marks) == len(other)
    assert marks[:-1] == other[:-1]
    assert marks[-1][0] == other[-1][0]
    assert abs((parse(marks[-1][1]) - parse(other[-1][1])).total_seconds()) < 120


def check_like_alone(emu, tmp_path: Path, name: str, state=None) -> dict[str, Any]:
    both = tap(emu, tmp_path, f"{name}-both", BOTH, state)
    alone = {s: tap(emu, tmp_path, f"{name}-{s}", [s], state) for s in BOTH}
    for stream in BOTH:
        assert both["records"][stream], stream
        assert both["records"][stream] == alone[stream]["records"][stream], stream
        same_but_the_last(both["bookmarks"][stream], alone[stream]["bookmarks"][stream])
    return {"both": both, "alone": alone}


@pytest.mark.parametrize("variant", [*VARIANTS, "worst"])
def test_both_streams_write_what_each_writes_alone_from_one_read_per_window(
    emulator, tmp_path, variant
):
    emulator.reset(config=True)
    emulator.configure(**(WORST if variant == "worst" else VARIANTS[variant]))
    try:
        runs = check_like_alone(emulator, tmp_path, variant)
    finally:
        emulator.reset(config=True)
    # one read of each window serves both: as many requests as responses alone
    assert runs["both"]["reads"] == runs["alone"]["responses"]["reads"]


def test_streams_with_different_bookmarks_each_read_their_own_windows(emulator, tmp_path):
    emulator.reset(config=True)
    state = {
        "bookmarks": {
            "responses": {
                "replication_key": "last_data_reception_at",
                "replication_key_value": "2025-09-01T00:00:00.000000Z",
            },
            "answers": {
                "replication_key": "answered_at",
                "replication_key_value": "2025-11-15T00:00:00.000000Z",
            },
        }
    }
    runs = check_like_alone(emulator, tmp_path, "differ", state)
    alone = runs["alone"]
    assert runs["both"]["reads"] == alone["responses"]["reads"] + alone["answers"]["reads"]
