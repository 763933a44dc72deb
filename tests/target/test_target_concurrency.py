"""The target keeps as many calls in flight as the API's distance needs, and no more."""

from __future__ import annotations

import contextlib
import io

import pytest

from target_refiner.concurrency import Concurrency
from target_refiner.target import TargetRefiner
from tests.target.target_helpers import singer_text

KEY_RATE = 4000 * 0.98 / 60  # calls per second the key's pacer allows


@pytest.mark.parametrize(
    ("latency", "wanted"),
    [(0.0, 4), (0.08, 9), (0.3, 27), (1.0, 84), (5.0, 128)],
)
def test_workers_follow_littles_law_between_the_start_and_the_cap(latency, wanted):
    assert Concurrency(cap=128, calls_per_second=KEY_RATE).wanted(latency) == wanted


def test_the_latency_is_a_moving_average_and_the_cap_holds():
    concurrency = Concurrency(cap=10, calls_per_second=KEY_RATE)
    assert concurrency.start == 4
    assert concurrency.observe(1.0) == 10
    for _ in range(50):
        wanted = concurrency.observe(0.01)
    assert wanted == 4
    assert concurrency.latency == pytest.approx(0.01, abs=0.001)
    assert Concurrency(cap=2, calls_per_second=KEY_RATE).start == 2


def identify_rows(count: int) -> list[dict]:
    schema = {
        "type": "SCHEMA",
        "stream": "users",
        "key_properties": ["id"],
        "schema": {"properties": {"id": {"type": "string"}}},
    }
    return [schema] + [
        {"type": "RECORD", "stream": "users", "record": {"id": f"far-{i}"}} for i in range(count)
    ]


def run_in_process(config: dict, rows: int) -> TargetRefiner:
    target = TargetRefiner(config=config)
    with contextlib.redirect_stdout(io.StringIO()):
        target.listen(io.StringIO(singer_text(identify_rows(rows))))
    return target


def test_a_far_api_gets_more_workers_than_a_near_one(emu, config):
    near = run_in_process(config, 40)
    # On loopback the measured latency is a few ms, or tens of ms on a loaded machine (it
    # includes the wait for a CPU), so the pool stays at or near the 4 it started with; the
    # exact numbers per latency are pinned by the Little's law test above.
    assert near.runtime.sender.workers <= 8
    emu.configure(latency_ms=250)
    far = run_in_process({**config, "state_dir": config["state_dir"] + "-far"}, 120)
    # 65 calls/s x 0.25 s x 1.25 + 2: about 23 workers, far above the 4 it started with.
    assert far.runtime.sender.workers >= 16
    assert far.runtime.sender.workers >= 2 * near.runtime.sender.workers
    assert far.runtime.sender.workers <= 128
    assert len(emu.calls(path="/v1/identify-user")) == 160
