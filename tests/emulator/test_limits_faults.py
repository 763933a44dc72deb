import time

import pytest

from refiner_emulator.ratelimit import RateLimiter

TOO_OFTEN = {"error": "You are doing this too often."}
TEST_SECRET = "s3cret"  # noqa: S105 - a throwaway value for the test
MASK = "***"


def test_per_key_limit_and_retry_after(emu_api):
    emu_api.emu.configure(rate_limit=True, per_key_per_minute=5)
    statuses = [emu_api.get("/").status_code for _ in range(5)]
    assert statuses == [200] * 5
    reply = emu_api.get("/")
    assert reply.status_code == 429
    assert reply.json() == TOO_OFTEN
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    stats = emu_api.emu.stats()
    assert stats["rate_limited"] == 1
    assert stats["by_status"] == {"200": 5, "429": 1}


def test_per_user_limit_and_no_side_effects(emu_api):
    emu_api.emu.configure(rate_limit=True, per_user_per_minute=3)
    for i in range(3):
        emu_api.ok("POST", "/track-event", json={"id": "busy", "event": f"e{i}"})
    reply = emu_api.post("/track-event", json={"id": "busy", "event": "e3"})
    assert reply.status_code == 429
    assert "Retry-After" in reply.headers
    assert [e["event"] for e in emu_api.emu.events()] == ["e0", "e1", "e2"]
    # other users and calls without a user identifier still pass
    emu_api.ok("POST", "/track-event", json={"id": "calm", "event": "x"})
    emu_api.ok("GET", "/contacts", params={"page_length": 1})
    # email and uuid are identifiers too
    for _ in range(3):
        assert emu_api.get("/contact", params={"email": "nobody@example.com"}).status_code == 404
    assert emu_api.get("/contact", params={"email": "nobody@example.com"}).status_code == 429


def test_rejected_requests_do_not_consume_quota():
    limiter = RateLimiter(per_key=2, per_user=100)
    assert limiter.admit("k", {}, now=0.0) is None
    assert limiter.admit("k", {}, now=30.0) is None
    assert limiter.admit("k", {}, now=31.0) == 29  # the request at t=0 frees a slot at t=60
    for t in range(32, 59):
        assert limiter.admit("k", {}, now=float(t)) is not None
    assert limiter.admit("k", {}, now=60.5) is None  # rejections did not extend the window
    assert limiter.admit("k", {}, now=61.0) == 29


def test_retry_after_is_at_least_one():
    limiter = RateLimiter(per_key=1, per_user=100)
    assert limiter.admit("k", {}, now=0.0) is None
    assert limiter.admit("k", {}, now=59.99) == 1


def test_rate_limit_off_by_default(emu_api):
    emu_api.emu.configure(per_key_per_minute=1)
    assert [emu_api.get("/").status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_queued_server_faults(emu_api, status):
    emu_api.emu.fault(status, count=2, path="/v1/identify-user")
    emu_api.ok("GET", "/")  # other paths unaffected
    for _ in range(2):
        reply = emu_api.post("/identify-user", json={"id": "faulty"})
        assert reply.status_code == status
    assert emu_api.emu.contact("faulty") is None  # no side effects
    emu_api.ok("POST", "/identify-user", json={"id": "faulty"})
    assert emu_api.emu.contact("faulty")["identify_count"] == 1


def test_queued_429_with_retry_after_and_body(emu_api):
    emu_api.emu.fault(429, count=1, retry_after=7)
    reply = emu_api.get("/contacts")
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "7"
    assert reply.json() == TOO_OFTEN
    emu_api.emu.fault(500, body={"error": "custom"})
    assert emu_api.get("/").json() == {"error": "custom"}
    assert emu_api.emu.stats()["rate_limited"] == 1


def test_fault_validation(emu_api):
    reply = emu_api.control("POST", "/faults", json={"status": 404})
    assert reply.status_code == 400


def test_latency_and_random_errors(emu_api):
    emu_api.emu.configure(latency_ms=150)
    started = time.monotonic()
    emu_api.ok("GET", "/")
    assert time.monotonic() - started >= 0.15
    emu_api.emu.configure(latency_ms=0, error_rate=1.0)
    assert emu_api.get("/").status_code in {500, 502, 503}
    emu_api.emu.configure(error_rate=0.5)
    statuses = [emu_api.get("/").status_code for _ in range(40)]
    assert 200 in statuses
    assert set(statuses) - {200} <= {500, 502, 503}
    assert set(statuses) != {200}


def test_calls_log_and_stats(emu_api):
    emu_api.ok("POST", "/identify-user", json={"id": "logged", "plan": "x"})
    emu_api.get("/nothing")
    calls = emu_api.emu.calls()
    assert [c["seq"] for c in calls] == [1, 2]
    assert calls[0] == {
        "seq": 1,
        "time": calls[0]["time"],
        "method": "POST",
        "path": "/v1/identify-user",
        "params": {"id": "logged", "plan": "x"},
        "auth": "bearer",
        "status": 200,
    }
    assert emu_api.emu.calls(path="/v1/identify-user", since_seq=1) == []
    assert emu_api.emu.calls(since_seq=1)[0]["status"] == 404
    stats = emu_api.emu.stats()
    assert stats["requests"] == 2
    assert stats["by_path"] == {"/v1/identify-user": 1, "/v1/nothing": 1}
    assert stats["contacts"] == 301
    assert stats["responses"] == 800
    emu_api.emu.reset()
    assert emu_api.emu.calls() == []
    assert emu_api.emu.stats()["contacts"] == 301  # data kept
    emu_api.emu.reset(data=True)
    assert emu_api.emu.stats()["contacts"] == 300


def test_config_route(fresh_emulator, emu_api):
    config = fresh_emulator.configure(latency_ms=5, webhook_secret=TEST_SECRET)
    assert config["latency_ms"] == 5.0
    assert config["webhook_secret"] == MASK
    assert fresh_emulator.config()["latency_ms"] == 5.0
    for bad in ({"nope": 1}, {"latency_ms": "fast"}, {"timestamp_format": "unix"}):
        reply = emu_api.control("POST", "/config", json=bad)
        assert reply.status_code == 400
    fresh_emulator.reset(config=True)
    assert fresh_emulator.config()["latency_ms"] == 0.0


def test_private_routes_are_not_logged_or_limited(fresh_emulator):
    fresh_emulator.configure(rate_limit=True, per_key_per_minute=1)
    fresh_emulator.fault(500, count=5)
    for _ in range(3):
        fresh_emulator.stats()
    assert fresh_emulator.calls() == []
    assert fresh_emulator.stats()["requests"] == 0
