"""Every process using one key books its slots from one schedule file, and a kill -9 frees it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from bisect import bisect_left

from refiner_http import KeyedPacer, Pacer
from refiner_http.policy import HttpPolicy
from refiner_http.schedule import SharedSchedule, open_shared_schedule, shared_schedule_path


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def max_in_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max(bisect_left(ordered, t + window) - i for i, t in enumerate(ordered))


def test_two_processes_views_of_one_file_share_the_key_budget(tmp_path):
    clock = FakeClock()
    path = tmp_path / "budget.sqlite"
    pacers = [
        Pacer(600, clock=clock, sleep=clock.sleep, schedule=SharedSchedule(path)) for _ in (1, 2)
    ]
    times = []
    for i in range(1800):
        pacers[i % 2].acquire()
        times.append(clock.now)
    assert max_in_window(times, 60.0) <= 600
    assert max_in_window(times, 60.0) >= 0.95 * 600


def test_the_per_user_limit_is_shared_too(tmp_path):
    clock = FakeClock()
    path = tmp_path / "budget.sqlite"
    pacers = [
        KeyedPacer(100, clock=clock, sleep=clock.sleep, schedule=SharedSchedule(path))
        for _ in (1, 2)
    ]
    times = []
    for i in range(300):
        pacers[i % 2].acquire("user-1")
        times.append(clock.now)
    assert max_in_window(times, 60.0) <= 100
    assert pacers[0].wait_time("user-1") > 0
    assert pacers[1].wait_time("someone-else") == 0


def test_a_429_hold_reaches_every_process(tmp_path):
    clock = FakeClock()
    path = tmp_path / "budget.sqlite"
    first = HttpPolicy(clock=clock, sleep=clock.sleep, schedule=SharedSchedule(path))
    second = HttpPolicy(clock=clock, sleep=clock.sleep, schedule=SharedSchedule(path))
    first.key_pacer.hold(5.0)
    assert second.key_pacer.reserve() >= 5.0


def test_the_file_is_named_by_a_hash_and_private(tmp_path):
    folder, url = tmp_path / "pacing", "https://api.refiner.io/v1"
    path = shared_schedule_path(folder, url + "/", "sk_live_42")
    assert "sk_live_42" not in str(path)
    assert path == shared_schedule_path(folder, url, "sk_live_42")
    assert path != shared_schedule_path(folder, url, "other")
    SharedSchedule(path).close()
    assert path.stat().st_mode & 0o077 == 0
    users = SharedSchedule(path)
    KeyedPacer(100, schedule=users).reserve("alice@example.com")
    assert b"alice" not in path.read_bytes()


def test_a_booking_implausibly_far_ahead_is_not_obeyed(tmp_path):
    clock = FakeClock()
    path = tmp_path / "budget.sqlite"
    stray = Pacer(600, clock=clock, sleep=clock.sleep, schedule=SharedSchedule(path))
    stray.hold(86_400.0)  # e.g. written before the wall clock was stepped back a day
    assert Pacer(600, clock=clock, schedule=SharedSchedule(path)).reserve() == 0


CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from refiner_http import Pacer
    from refiner_http.schedule import SharedSchedule

    path, per_minute, count = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    pacer = Pacer(per_minute, clock=time.time, schedule=SharedSchedule(path))
    print("ready", flush=True)
    sys.stdin.readline()
    slots = []
    for _ in range(count):
        wait = pacer.reserve()
        slots.append(time.time() + wait)
        if wait > 0:
            time.sleep(wait)
    print(json.dumps(slots), flush=True)
    """
)


def test_real_processes_together_stay_under_and_near_the_limit(tmp_path):
    per_minute, count = 12_000, 150  # 200 per second between them, for about 1.5 s
    path = tmp_path / "budget.sqlite"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(per_minute), str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in (1, 2)
    ]
    for child in children:
        assert child.stdout.readline().strip() == "ready"
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    slots = []
    for child in children:
        out, _ = child.communicate(timeout=60)
        slots += json.loads(out)
    per_second = per_minute / 60
    assert max_in_window(slots, 1.0) <= per_second
    span = max(slots) - min(slots)
    assert len(slots) / span >= 0.85 * per_second


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from refiner_http.schedule import SharedSchedule

    schedule = SharedSchedule(Path(sys.argv[1]))

    def stuck(tat):
        print("holding", flush=True)
        time.sleep(600)
        return tat, None

    schedule.update("key", stuck, time.time())
    """
)


def test_a_process_killed_while_booking_never_leaves_the_budget_locked(tmp_path):
    path = tmp_path / "budget.sqlite"
    pacer = Pacer(4000, clock=time.time, schedule=SharedSchedule(path))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    booked = threading.Event()
    waiter = threading.Thread(target=lambda: (pacer.reserve(), booked.set()), daemon=True)
    waiter.start()
    assert not booked.wait(0.5)  # the holder really holds the lock
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    holder.stdout.close()
    assert booked.wait(10)
    assert pacer.reserve() < 1.0


def test_week_old_schedules_of_other_environments_are_swept(tmp_path):
    folder = tmp_path / "pacing"
    folder.mkdir()
    stale, recent = folder / "gone.sqlite", folder / "live.sqlite"
    stale.write_bytes(b"")
    recent.write_bytes(b"")
    week_ago = time.time() - 8 * 86_400
    os.utime(stale, (week_ago, week_ago))
    open_shared_schedule(folder, "https://api.refiner.io/v1", "key").close()
    assert not stale.exists()
    assert recent.exists()
