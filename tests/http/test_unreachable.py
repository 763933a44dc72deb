"""No answer at all (refused, reset, timed out): one sentence of ours after the last try."""

from __future__ import annotations

import logging
import socket

import pytest
import requests

from refiner_http import HttpPolicy, Redactor, RefinerClient, RefinerUnreachableError
from refiner_http.errors import network_reason
from tests.local_http import closed_port_url

KEY = "sk-very-secret-key-123"


@pytest.mark.usefixtures("sleeps")
def test_refused_connection_gives_one_sentence_not_urllib3s(caplog):
    url = closed_port_url()
    policy = HttpPolicy(redactor=Redactor([KEY]), max_tries=2)
    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises(RefinerUnreachableError) as info,
        RefinerClient(KEY, url, policy=policy) as client,
    ):
        client.request("GET", "/contacts", params={"email": "a@example.com"})
    origin = url.removesuffix("/v1")
    assert str(info.value) == (
        f"Could not reach Refiner at {origin} (GET /v1/contacts): connection refused; "
        "gave up after 2 tries (setting `max_tries`)."
    )
    assert isinstance(info.value, requests.exceptions.ConnectionError)  # handled as before
    (retry,) = [r.getMessage() for r in caplog.records if "Retrying" in r.getMessage()]
    assert retry.endswith(
        f"(try 1 of 2) after: Could not reach Refiner at {origin} (GET /v1/contacts): "
        "connection refused"
    )
    assert "Max retries exceeded" not in caplog.text
    assert "Giving up" not in caplog.text  # the caller states the stop, once
    assert "a@example.com" not in caplog.text + str(info.value)  # the query is not named
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (ConnectionResetError(104, "Connection reset by peer"), "connection reset"),
        (
            requests.exceptions.ConnectionError(socket.gaierror(-2, "Name or service not known")),
            "host name not found",
        ),
        (requests.exceptions.ReadTimeout("read timed out"), "no answer within `request_timeout`"),
        (requests.exceptions.ChunkedEncodingError("incomplete"), "the answer was cut off"),
        (requests.exceptions.ConnectionError(OSError("odd")), "odd"),
    ],
)
def test_network_reasons_in_words(error, words):
    assert network_reason(error) == words
