"""429 / 5xx / auth answers from a real local HTTP server, with time.sleep patched."""

from __future__ import annotations

import email.utils
import logging
import time

import pytest

from refiner_http import (
    HttpPolicy,
    Redactor,
    RefinerApiError,
    RefinerAuthError,
    RefinerClient,
    RefinerTransientError,
)
from refiner_http.errors import AUTH_HINT

KEY = "sk-very-secret-key-123"


def client(url, **policy_args):
    policy_args.setdefault("max_requests_per_minute", 100000)
    return RefinerClient(KEY, url, policy=HttpPolicy(redactor=Redactor([KEY]), **policy_args))


def test_429_waits_what_retry_after_says(scripted_server, sleeps):
    scripted_server.play(
        (429, {"Retry-After": "7"}, {"error": "You are doing this too often."}),
        (200, {}, {"items": []}),
    )
    body = client(scripted_server.url).request("GET", "/contacts")
    assert body == {"items": []}
    assert len(scripted_server.requests) == 2
    # backoff waits Retry-After (+ at most 10% jitter); the pacer, held for as long, may ask
    # for the same wait again because the patched sleep lets no real time pass.
    assert 7.0 <= sleeps[0] <= 7.7
    assert all(w <= 7.7 for w in sleeps)


def test_429_with_http_date(scripted_server, sleeps):
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    scripted_server.play((429, {"Retry-After": when}, {}), (200, {}, {"ok": 1}))
    client(scripted_server.url).request("GET", "/contacts")
    assert 28.0 <= sleeps[0] <= 33.5


def test_5xx_burst_backs_off_exponentially_with_jitter(scripted_server, sleeps):
    scripted_server.play(
        (503, {}, {"error": "busy"}),
        (502, {}, "bad gateway"),
        (500, {}, {"message": "oops"}),
        (200, {}, {"ok": True}),
    )
    assert client(scripted_server.url).request("GET", "/account") == {"ok": True}
    waits = [w for w in sleeps if w > 0.01]  # ignore pacing slots
    assert len(waits) == 3
    for attempt, wait in enumerate(waits, start=1):
        ceiling = 2.0 ** (attempt - 1)
        assert ceiling / 2 <= wait <= ceiling


def test_gives_up_after_max_tries(scripted_server, sleeps):
    scripted_server.play((503, {}, {"error": "down"}))
    with pytest.raises(RefinerTransientError, match="503"):
        client(scripted_server.url, max_tries=4).request("GET", "/account")
    assert len(scripted_server.requests) == 4
    assert len([w for w in sleeps if w > 0.01]) == 3


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"error": "No API key found in headers"}),
        (404, {"message": "API key not valid or does not exist"}),
        (400, {"message": "API key not valid or does not exist"}),
    ],
)
def test_auth_errors_stop_at_once_with_hint(scripted_server, sleeps, status, body):
    scripted_server.play((status, {}, body))
    with pytest.raises(RefinerAuthError) as info:
        client(scripted_server.url).request("GET", "/account")
    text = str(info.value)
    assert next(iter(body.values())) in text
    assert AUTH_HINT in text
    assert KEY not in text
    assert len(scripted_server.requests) == 1
    assert sleeps == []


@pytest.mark.usefixtures("sleeps")
def test_other_4xx_is_not_retried(scripted_server):
    scripted_server.play((422, {}, {"error": "The selected type is invalid."}))
    with pytest.raises(RefinerApiError) as info:
        client(scripted_server.url).request("GET", "/reporting")
    assert not isinstance(info.value, RefinerAuthError)
    assert info.value.message == "The selected type is invalid."
    assert len(scripted_server.requests) == 1


@pytest.mark.usefixtures("sleeps")
def test_sends_bearer_and_never_logs_key(scripted_server, caplog):
    scripted_server.play((500, {}, {"error": f"echo {KEY}"}), (200, {}, {}))
    with caplog.at_level(logging.WARNING, logger="refiner_http"):
        client(scripted_server.url).request("GET", "/v1/contacts")
    assert scripted_server.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    assert scripted_server.requests[0]["path"] == "/v1/contacts"
    assert "Retrying" in caplog.text
    assert KEY not in caplog.text


@pytest.mark.usefixtures("sleeps")  # the retry's backoff does not wait
def test_a_user_slot_booked_by_the_caller_is_not_booked_again_but_a_retry_books_its_own(
    scripted_server,
):
    """The target books a person's slot when it schedules the call (issue 18): the first
    attempt must not book a second one (that halved a busy person's pace); a retry books."""
    scripted_server.play((503, {}, {"error": "busy"}), (200, {}, {"ok": True}))
    api = client(scripted_server.url, max_requests_per_user_per_minute=60)
    pacer = api.policy.user_pacer
    assert pacer.reserve("u1") == 0  # the caller's booking: the next slot is ~1 s ahead
    assert 0.9 * pacer.interval < pacer.wait_time("u1") <= pacer.interval

    api.send("POST", "/track-event", params={"id": "u1"}, user_key="u1", user_slot_booked=True)

    assert len(scripted_server.requests) == 2
    # one more slot (the retry's), not two: the first attempt used the caller's
    assert 1.9 * pacer.interval < pacer.wait_time("u1") <= 2 * pacer.interval
