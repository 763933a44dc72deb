"""Per-user pacing: one user with 300 events finishes without a 429 and does not stall others.

To keep the suite fast this runs with both the emulator's per-user limit and the target's
``max_requests_per_user_per_minute`` raised to 1200/min (12x Refiner's 100/min): the pacing logic
is the same, only the interval is shorter (300 events take ~15 s instead of ~3 min).
"""

from __future__ import annotations

from tests.target.target_helpers import api_calls, record, run_target, schema, state

PER_USER = 1200
EVENTS = {
    "event_id": {"type": "integer"},
    "user_id": {"type": "string"},
    "event": {"type": "string"},
}


def test_one_busy_user_paced_without_429_and_without_blocking_others(emu, config):
    emu.configure(rate_limit=True, per_key_per_minute=4000, per_user_per_minute=PER_USER)
    msgs = [schema("events", EVENTS, ["event_id"])]
    for i in range(300):
        msgs.append(record("events", {"event_id": i, "user_id": "busy", "event": f"e{i}"}))
        if i % 10 == 0:  # 30 other users, their rows queued behind the busy user's
            msgs.append(
                record("events", {"event_id": 10_000 + i, "user_id": f"o{i}", "event": "x"})
            )
    msgs.append(state({"done": True}))
    config = {
        **config,
        "mappings": {"events": {"action": "track", "user_id": "user_id", "event": "event"}},
        "max_requests_per_user_per_minute": PER_USER,
    }
    run = run_target(config, msgs)

    stats = emu.stats()
    assert stats["rate_limited"] == 0
    assert stats["by_status"] == {"200": 330 + 1}  # + the key check
    calls = api_calls(emu, "/track-event")
    busy = [c for c in calls if c["params"]["id"] == "busy"]
    assert [c["params"]["event"] for c in busy] == [f"e{i}" for i in range(300)]
    # Paced evenly at the per-user rate (not sent in bursts that a real 100/min would punish).
    times = [c["time"] for c in busy]
    assert times[-1] - times[0] >= 299 * 60 / PER_USER * 0.95
    # No head-of-line blocking: the other users finish while the busy one is still early on.
    others_done = max(c["time"] for c in calls if c["params"]["id"] != "busy")
    assert others_done < times[100]
    assert run.states == [{"done": True}]
