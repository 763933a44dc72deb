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


def test_mask_known_leaves_credential_shaped_data_alone():
    redact = Redactor(["k3y-value"])
    text = "Basic Monthly, bearer of news, https://x.example/?token=abc, k3y-value"
    assert (
        redact.mask_known(text)
        == "Basic Monthly, bearer of news, https://x.example/?token=abc, ***"
    )


def test_log_mode_still_masks_credential_shapes_after_known_secrets():
    redact = Redactor(["k3y-value"])
    assert redact("k3y-value ?token=abc") == "*** ?token=***"


def test_for_settings_collects_every_secret_setting():
    schema = {
        "properties": {
            "api_key": {"type": "string", "secret": True},
            "other_token": {"type": "string", "secret": True},
            "api_url": {"type": "string"},
        }
    }
    config = {"api_key": "key-1234", "other_token": "tok-5678", "api_url": "http://host-1234"}
    redact = Redactor.for_settings(config, schema)
    assert set(redact.secrets) == {"key-1234", "tok-5678"}
    assert redact.mask_known("http://host-1234 key-1234") == "http://host-1234 ***"
