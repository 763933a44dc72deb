"""`pacing_url`: one pacing budget in PostgreSQL for every process on every machine.

The unit tests book from two ``PostgresSchedule`` objects (two "machines", one of them with a
clock an hour off); the end-to-end test runs two target processes with different HOMEs and
pacing folders, sharing only the database, against an emulator that enforces the limits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from refiner_http.pacing import KeyedPacer, Pacer
from refiner_http.pg_schedule import PostgresSchedule, open_postgres_schedule
from refiner_http.schedule import MAX_AHEAD_SECONDS, environment_digest
from tests.reliability.target_processes import singer_lines, start_target
from tests.reliability.test_shared_budget import (
    PER_KEY,
    PER_USER,
    assert_one_budget_used_to_the_full,
    limited_emulator,
    max_in_window,
    messages,
)

__all__ = ["limited_emulator"]

API_URL, API_KEY = "https://api.example.test/v1", "key-for-pacing-tests"
BIN = Path(sys.executable).parent
PER_MINUTE = 600  # interval 60 / (600 * 0.98 - 3) = 0.1026 s, burst 4


@pytest.fixture
def machines(warehouse):
    """Two schedules on one database, as two machines open them."""
    first = open_postgres_schedule(warehouse.url, API_URL, API_KEY)
    second = open_postgres_schedule(warehouse.url, API_URL, API_KEY)
    yield first, second
    first.close()
    second.close()


def slots(pacers: list[Pacer], bookings: int) -> list[float]:
    """Book ``bookings`` slots round robin; each slot as a time on the real monotonic clock."""
    booked = []
    for n in range(bookings):
        wait = pacers[n % len(pacers)].reserve()
        booked.append(time.monotonic() + wait)
    return booked


def test_two_machines_book_one_timeline(machines):
    pacers = [Pacer(PER_MINUTE, schedule=s, clock=s.clock) for s in machines]
    booked = slots(pacers, 40)
    interval = pacers[0].interval
    # One timeline: after the burst of 4, one slot per interval across both machines.
    assert max_in_window(booked, 10 * interval) <= 10 + 4
    assert max(booked) - min(booked) >= (40 - 4) * interval * 0.98


def test_slots_follow_the_database_clock_not_the_machines(machines):
    first, second = machines
    # The second machine's clock is an hour ahead: its bookings must not move the first's
    # slots an hour away (nor be believed "far ahead" and ignored).
    skewed = Pacer(PER_MINUTE, schedule=second, clock=lambda: time.monotonic() + 3600)
    honest = Pacer(PER_MINUTE, schedule=first, clock=first.clock)
    booked = slots([honest, skewed], 40)
    interval = honest.interval
    assert max_in_window(booked, 10 * interval) <= 10 + 4
    assert max(booked) - min(booked) < 40 * interval


def test_a_429_on_one_machine_holds_the_other(machines):
    first, second = machines
    Pacer(PER_MINUTE, schedule=first, clock=first.clock).hold(2.0)
    wait = Pacer(PER_MINUTE, schedule=second, clock=second.clock).reserve()
    assert 1.9 <= wait <= 2.5


def test_per_user_budgets_are_shared_and_forgotten_when_idle(machines, warehouse):
    first, second = machines
    users = [KeyedPacer(60, schedule=s, clock=s.clock) for s in machines]
    waits = [users[n % 2].reserve("user-1") for n in range(4)]
    interval = users[0].interval
    assert waits == pytest.approx([0, interval, 2 * interval, 3 * interval], abs=0.05)
    assert users[1].wait_time("user-1") == pytest.approx(4 * interval, abs=0.05)
    users[0].reserve("user-2")
    assert len(first) == len(second) == 2
    # A user idle for over a minute (its TAT a minute in the past) is forgotten.
    warehouse.execute("UPDATE refiner_pacing SET tat = tat - 600 WHERE name LIKE 'user:%'")
    first.forget_idle(0.0)
    assert len(second) == 0
    # The rows hold hashes, never the user ids, and the environment is a hash of URL and key.
    names = warehouse.rows("SELECT DISTINCT environment FROM refiner_pacing")
    assert names in ([], [(environment_digest(API_URL, API_KEY),)])


def test_environments_do_not_share_a_budget(warehouse, machines):
    other = open_postgres_schedule(warehouse.url, API_URL, "another-key")
    try:
        Pacer(PER_MINUTE, schedule=machines[0], clock=time.monotonic).hold(30.0)
        assert Pacer(PER_MINUTE, schedule=other, clock=time.monotonic).reserve() == 0.0
    finally:
        other.close()


def test_a_tat_implausibly_far_ahead_is_not_obeyed(machines, warehouse):
    first, _ = machines
    pacer = Pacer(PER_MINUTE, schedule=first, clock=first.clock)
    pacer.reserve()
    warehouse.execute(f"UPDATE refiner_pacing SET tat = tat + {MAX_AHEAD_SECONDS * 10}")  # noqa: S608
    assert pacer.reserve() == 0.0


def test_a_lost_connection_is_reopened_once(machines, warehouse):
    first, _ = machines
    pacer = Pacer(PER_MINUTE, schedule=first, clock=first.clock)
    pacer.reserve()
    warehouse.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = 'refiner-singer' AND pid <> pg_backend_pid()"
    )
    time.sleep(0.2)
    assert pacer.reserve() >= 0.0  # booked on a new connection


def test_only_pacings_own_steps_are_booked(machines):
    with pytest.raises(TypeError, match="Booking and Hold"):
        machines[0].update("key", lambda tat: (tat, None), 0.0)


def test_a_newer_schema_is_refused(warehouse):
    PostgresSchedule(warehouse.url, "env").close()
    warehouse.execute("UPDATE refiner_store_versions SET version = 99 WHERE store = 'pacing'")
    with pytest.raises(Exception, match="schema version 99"):
        PostgresSchedule(warehouse.url, "env")


def machine_env(home) -> dict[str, str]:
    """A machine of its own: its HOME, no inherited pacing folder."""
    env = {k: v for k, v in os.environ.items() if k not in {"REFINER_PACING_DIR", "XDG_CACHE_HOME"}}
    home.mkdir()
    return {**env, "HOME": str(home)}


def test_two_machines_on_one_pacing_url_get_no_429_and_use_the_budget(
    limited_emulator, warehouse, tmp_path
):
    emu = limited_emulator
    targets = []
    for name in ("first", "second"):
        config = {
            "api_key": emu.api_key,
            "api_url": emu.api_url,
            "state_dir": str(tmp_path / name / "state"),
            "max_requests_per_minute": PER_KEY,
            "max_requests_per_user_per_minute": PER_USER,
            "pacing_dir": str(tmp_path / name / "pacing"),
            "pacing_url": warehouse.url,
        }
        env = machine_env(tmp_path / f"{name}-home")
        process = start_target(config, tmp_path / f"{name}.json", env=env)
        targets.append((process, messages(name)))
    for target, lines in targets:
        target.stdin.write(singer_lines(lines))
        target.stdin.close()
    stderr = []
    for target, _ in targets:
        assert target.wait(timeout=240) == 0, target.stderr.read()
        stderr.append(target.stderr.read())
        target.stdout.close()
        target.stderr.close()

    assert_one_budget_used_to_the_full(emu)
    # Only the database was shared: each machine's pacing folder stayed empty, and the
    # password never reached a log.
    for name in ("first", "second"):
        assert not list((tmp_path / name / "pacing").glob("*.sqlite"))
    assert all(warehouse.server.password not in text for text in stderr)
    assert warehouse.scalar("SELECT count(*) FROM refiner_pacing WHERE name = 'key'") == 1


def test_tap_and_refiner_api_book_in_the_database(fresh_emulator, warehouse, tmp_path):
    emu = fresh_emulator
    config = {"api_key": emu.api_key, "api_url": emu.api_url, "pacing_url": warehouse.url}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    called = subprocess.run(
        [sys.executable, "-m", "refiner_api.cli", "GET", "/v1/", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert called.returncode == 0, called.stderr
    key_row = "SELECT tat FROM refiner_pacing WHERE name = 'key'"
    after_api = warehouse.scalar(key_row)
    tap = subprocess.run(
        [str(BIN / "tap-refiner"), "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert tap.returncode == 0, tap.stderr[-3000:]
    assert warehouse.scalar(key_row) > after_api  # the tap booked its calls on the same row
    assert warehouse.server.password not in tap.stderr + called.stderr


def test_a_wrong_password_stops_each_plugin_with_one_line(fresh_emulator, warehouse, tmp_path):
    emu = fresh_emulator
    url = warehouse.url.replace(warehouse.server.password, "Wrong-Pass-4242")
    config = {"api_key": emu.api_key, "api_url": emu.api_url, "pacing_url": url}
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config, "state_dir": str(tmp_path / "state")}))
    for plugin in ("target-refiner", "tap-refiner"):
        run = subprocess.run(
            [str(BIN / plugin), "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            input="",
        )
        assert run.returncode == 1, (plugin, run.stderr[-3000:])
        assert "Traceback" not in run.stderr, (plugin, run.stderr[-3000:])
        errors = [line for line in run.stderr.splitlines() if "pacing_url" in line]
        assert len(errors) == 1, (plugin, run.stderr[-3000:])
        assert "postgresql://postgres:***@" in errors[0]
        assert "Wrong-Pass-4242" not in run.stderr
