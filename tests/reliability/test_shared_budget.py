"""Two target processes on one key share one pacing budget: no 429, and the limit used in full.

The emulator enforces a low limit (1200/min per key, 120/min per user) over real sliding windows.
Each target alone is configured to that same limit, so without a shared budget the two would
send at twice the rate. Rather than waiting a whole minute for the first 429, the test also
reads the emulator's arrival times: a shared budget spaces the calls of both processes as one
schedule, so any 3-second window holds about 3/60 of the limit (plus the burst), where two
independent pacers would put twice that in it.
"""

from __future__ import annotations

from bisect import bisect_left

import pytest

from refiner_emulator.testing import EmulatorProcess
from tests.reliability.target_processes import singer_lines, start_target

PER_KEY, PER_USER = 1200, 120
ROWS = 150
SHARED_USER_ROWS = 8


def max_in_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max(bisect_left(ordered, t + window) - i for i, t in enumerate(ordered))


def messages(prefix: str) -> list[dict]:
    schema = {
        "type": "SCHEMA",
        "stream": "users",
        "key_properties": ["id"],
        "schema": {"properties": {"id": {"type": "string"}, "plan": {"type": "string"}}},
    }
    rows = [{"id": f"{prefix}-{i}", "plan": "pro"} for i in range(ROWS)]
    # One user both processes update: the per-user limit must hold across them too.
    spots = range(0, ROWS, ROWS // SHARED_USER_ROWS)[:SHARED_USER_ROWS]
    for n, spot in enumerate(spots):
        rows[spot] = {"id": "shared-user", "plan": f"{prefix}-{n}"}
    records = [{"type": "RECORD", "stream": "users", "record": r} for r in rows]
    return [schema, *records, {"type": "STATE", "value": {"done": prefix}}]


def assert_one_budget_used_to_the_full(emu: EmulatorProcess) -> None:
    """Two processes' calls: no 429, no 3 s window over the key's share, >= 0.85 of it used."""
    calls = emu.calls()
    sent = [c for c in calls if c["path"] == "/v1/identify-user"]
    assert len(sent) == 2 * ROWS
    assert emu.stats()["rate_limited"] == 0
    assert all(c["status"] == 200 for c in calls)
    times = [c["time"] for c in calls]
    per_second = PER_KEY / 60
    assert max_in_window(times, 3.0) <= 1.1 * 3 * per_second
    # Used to the full while both had work (the shared user's calls trail at its own limit).
    others = [c["time"] for c in calls if c["params"].get("id") != "shared-user"]
    assert len(others) / (max(others) - min(others)) >= 0.85 * per_second
    shared = [c["time"] for c in sent if c["params"].get("id") == "shared-user"]
    assert len(shared) == 2 * SHARED_USER_ROWS
    assert max_in_window(shared, 3.0) <= 3 * PER_USER / 60 + 1


@pytest.fixture
def limited_emulator():
    args = (
        "--contacts", "0", "--responses", "0", "--rate-limit", "--latency-ms", "40",
        "--per-key-per-minute", str(PER_KEY), "--per-user-per-minute", str(PER_USER),
    )  # fmt: skip
    with EmulatorProcess(*args) as emu:
        yield emu


def test_two_targets_on_one_key_get_no_429_and_use_the_budget(limited_emulator, tmp_path):
    emu = limited_emulator
    pacing_dir = tmp_path / "pacing"
    targets = []
    for name in ("first", "second"):
        config = {
            "api_key": emu.api_key,
            "api_url": emu.api_url,
            "state_dir": str(tmp_path / name),
            "max_requests_per_minute": PER_KEY,
            "max_requests_per_user_per_minute": PER_USER,
            "pacing_dir": str(pacing_dir),
        }
        targets.append((start_target(config, tmp_path / f"{name}.json"), messages(name)))
    for target, lines in targets:
        target.stdin.write(singer_lines(lines))
        target.stdin.close()
    for target, _ in targets:
        assert target.wait(timeout=240) == 0, target.stderr.read()
        target.stdout.close()
        target.stderr.close()

    assert_one_budget_used_to_the_full(emu)
