"""Every process using one key books its slots from one schedule file, and a kill -9 frees it."""

from __future__ import annotations

import json
import logging
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
from refiner_http.schedule import (
    LocalSchedule,
    SharedSchedule,
    open_shared_schedule,
    schedule_for,
    shared_schedule_path,
)


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


def age(path, days: float) -> None:
    then = time.time() - days * 86_400
    os.utime(path, (then, then))


def schedule_files(folder, digest: str, days: float) -> list:
    """A schedule's files as a process leaves them, last touched ``days`` ago."""
    files = [folder / f"{digest}{suffix}" for suffix in (".sqlite", ".sqlite-wal", ".lock")]
    for file in files:
        file.write_bytes(b"")
        age(file, days)
    return files


def test_schedules_unused_for_a_week_are_swept_and_nothing_else(tmp_path):
    folder = tmp_path / "pacing"
    folder.mkdir()
    gone = schedule_files(folder, "a" * 24, days=8)
    recent = schedule_files(folder, "c" * 24, days=1)
    # In use: booked a minute ago, its lock file created a month ago (flock leaves mtime alone).
    active = schedule_files(folder, "b" * 24, days=0.001)
    age(active[2], 30)
    foreign = folder / "notes.txt"  # `pacing_dir` may be a folder shared with other things
    foreign.write_text("mine")
    age(foreign, 30)
    open_shared_schedule(folder, "https://api.refiner.io/v1", "key").close()
    assert not any(f.exists() for f in gone)
    assert all(f.exists() for f in [*recent, *active, foreign])


def test_the_folder_holds_only_the_last_weeks_environments(tmp_path):
    """Test emulators on random ports make a new environment each run: they do not pile up."""
    folder = tmp_path / "pacing"
    for n in range(60):
        open_shared_schedule(folder, f"http://127.0.0.1:{40000 + n}/v1", "key").close()
        for file in folder.iterdir():
            age(file, 8)  # a week passes between runs
    assert len(list(folder.iterdir())) <= 3  # the last environment's files only
    assert sum(f.stat().st_size for f in folder.iterdir()) < 64_000


def test_an_unusable_folder_falls_back_to_pacing_in_this_process(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    log = logging.getLogger("test-pacing")
    schedule = schedule_for(str(blocker / "pacing"), "https://api.refiner.io/v1", "key", log=log)
    assert isinstance(schedule, LocalSchedule)
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = warning.getMessage()
    assert "Setting `pacing_dir`" in message
    assert str(blocker / "pacing") in message
    assert "no longer shared" in message
    assert "key" not in message.replace("this key", "")
