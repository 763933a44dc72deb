"""Secrets never reach logs or error text."""

from __future__ import annotations

import logging

from refiner_http import Redactor
from refiner_http.client import BearerAuth


def test_masks_known_secrets_longest_first():
    redact = Redactor(["abcd", "abcdefgh"])
    assert redact("key abcdefgh and abcd") == "key *** and ***"


def test_ignores_short_or_empty_secrets():
    redact = Redactor(["", None, "ab"])
    assert redact("ab cd") == "ab cd"


def test_masks_credential_shaped_text_even_when_unknown():
    redact = Redactor()
    text = redact("GET /v1/x?api_key=zzz&token=yy Authorization: Bearer q1w2e3 Basic dXNlcjo=")
    assert "zzz" not in text
    assert "yy" not in text
    assert "q1w2e3" not in text
    assert "dXNlcjo=" not in text
    assert "api_key=***" in text


def test_add_registers_new_secret():
    redact = Redactor()
    redact.add("late-secret")
    assert redact("x late-secret y") == "x *** y"


def test_logging_filter_redacts_arguments(caplog):
    redact = Redactor(["s3cr3t-value"])
    logger = logging.getLogger("test.redact")
    logger.addFilter(redact.logging_filter())
    with caplog.at_level(logging.INFO, logger="test.redact"):
        logger.info("calling with %s", "s3cr3t-value")
    logger.filters.clear()
    assert "s3cr3t-value" not in caplog.text
    assert "calling with ***" in caplog.text


def test_bearer_auth_repr_hides_key():
    assert "topsecret" not in repr(BearerAuth("topsecret"))
