"""Retry-After: delta-seconds, HTTP-date, and junk."""

from __future__ import annotations

import email.utils

import pytest

from refiner_http.policy import DEFAULT_RETRY_AFTER, parse_retry_after


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), (" 2.5 ", 2.5), ("0", 0.0), ("-3", 0.0), (None, DEFAULT_RETRY_AFTER)],
)
def test_delta_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_http_date_in_the_future():
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 42, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(42.0)


def test_http_date_in_the_past_means_now():
    now = 1_700_000_000.0
    header = email.utils.formatdate(now - 100, usegmt=True)
    assert parse_retry_after(header, now=now) == 0.0


def test_junk_falls_back_to_default():
    assert parse_retry_after("soon, maybe") == DEFAULT_RETRY_AFTER
