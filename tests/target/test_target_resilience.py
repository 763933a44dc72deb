"""429 storms, 5xx bursts, giving up, bad keys, reject ratio, settings errors, secrets."""

from __future__ import annotations

import json
import logging
import time

import pytest
from singer_sdk.exceptions import ConfigValidationError

from target_refiner.errors import RunStoppedError
from target_refiner.progress import RejectRatioExceededError
from target_refiner.sender import SenderFailedError
from target_refiner.target import TargetRefiner
from tests.target.target_helpers import api_calls, record, run_target, schema, state

USERS = {"id": {"type": "string"}, "n": {"type": "integer"}}


def users(count: int, *, start: int = 0):
    msgs = [schema("users", USERS)]
    for i in range(start, start + count):
        msgs.append(record("users", {"id": f"user-{i}", "n": i}))
        if i % 5 == 4:
            msgs.append(state({"n": i}))
    return msgs


def test_429_storm_every_row_applied_once(emu, config):
    emu.fault(429, count=16, retry_after=1, path="/v1/identify-user")
    fast = {**config, "max_tries": 30, "max_requests_per_user_per_minute": 6000}
    run = run_target(fast, users(20))
    ok = [c for c in api_calls(emu, "/identify-user") if c["status"] == 200]
    assert sorted(c["params"]["id"] for c in ok) == sorted(f"user-{i}" for i in range(20))
    assert emu.stats()["rate_limited"] == 16
    assert run.states[-1] == {"n": 19}


def test_retry_after_is_honoured(emu, config):
    emu.fault(429, count=1, retry_after=1, path="/v1/identify-user")
    run_target(config, users(1))
    first, second = api_calls(emu, "/identify-user")
    assert (first["status"], second["status"]) == (429, 200)
    assert second["time"] - first["time"] >= 0.95


def test_5xx_burst_is_retried_with_backoff(emu, config, monkeypatch, caplog):
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)  # backoff's sleep; pacing keeps its own
    emu.fault(503, count=6, path="/v1/identify-user")
    with caplog.at_level(logging.INFO):
        run = run_target(config, users(10))
    calls = api_calls(emu, "/identify-user")
    assert [c["status"] for c in calls].count(503) == 6
    assert len([c for c in calls if c["status"] == 200]) == 10
    assert len([w for w in waits if w > 0]) >= 1
    assert run.states[-1] == {"n": 9}
    assert "Retrying in" in caplog.text
    assert emu.api_key not in caplog.text


def test_giving_up_stops_before_the_failing_row_and_a_rerun_finishes(emu, config, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    msgs = users(5)
    run_target(config, msgs)  # rows 0-4 acknowledged, STATE n=4
    emu.fault(500, count=50, path="/v1/identify-user")
    more = users(5, start=5)
    run = run_target({**config, "max_tries": 2}, more, raises=True)
    assert isinstance(run.error, SenderFailedError)
    assert "after 2 tries (setting `max_tries`)" in str(run.error)
    assert {"n": 9} not in run.states
    emu.reset()  # clears the faults
    rerun = run_target(config, more)
    ids = {c["params"]["id"] for c in api_calls(emu, "/identify-user") if c["status"] == 200}
    assert ids == {f"user-{i}" for i in range(5, 10)}
    assert rerun.states[-1] == {"n": 9}


def test_bad_api_key_fails_fast_without_leaking_it(emu, config, caplog):
    secret = "sk_live_not-a-real-key-123456"  # noqa: S105 - a fake key
    with caplog.at_level(logging.DEBUG):
        run = run_target({**config, "api_key": secret}, users(3), raises=True)
    assert isinstance(run.error, RunStoppedError)  # at the key check, before any row
    assert "api_key" in str(run.error)
    assert secret not in str(run.error)
    assert secret not in caplog.text
    assert run.states == []
    assert api_calls(emu, "/identify-user") == []  # stopped before reading any row


def test_max_reject_ratio_fails_the_run_with_a_clear_message(config):
    msgs = [schema("users", USERS)]
    msgs += [record("users", {"id": f"u{i}"}) for i in range(3)]
    msgs += [record("users", {"n": i}) for i in range(2)]
    run = run_target({**config, "max_reject_ratio": 0.1}, msgs, raises=True)
    assert isinstance(run.error, RejectRatioExceededError)
    assert "`max_reject_ratio` (10.00%) exceeded: 2 of 5 rows rejected (40.00%)" in str(run.error)
    run_target({**config, "max_reject_ratio": 0.5}, msgs)


@pytest.mark.parametrize(
    ("override", "setting"),
    [
        ({"mappings": {"s": {"action": "track", "user_id": "id"}}}, "mappings.s"),
        ({"mappings": {"s": {"action": "teleport", "user_id": "id"}}}, "action"),
        ({"default_action": "track"}, "default_action"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_reject_ratio": 2}, "max_reject_ratio"),
        ({"api_key": ""}, "api_key"),
    ],
)
def test_invalid_settings_name_the_setting_before_any_call(emu, config, override, setting):
    with pytest.raises(ConfigValidationError) as info:
        TargetRefiner(config={**config, **override})
    text = str(info.value) + json.dumps(info.value.errors)
    assert setting in text
    assert emu.calls() == []
