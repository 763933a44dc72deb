"""Settings: every default read from its one declaration, checks in the tap's style."""

from __future__ import annotations

from pathlib import Path

from refiner_http import settings as shared
from target_refiner import settings
from target_refiner.mapping_settings import IDENTIFY
from target_refiner.state import StateOutbox
from target_refiner.target import TargetRefiner

NULLS = {
    "api_key": "k",
    "api_url": None,
    "request_timeout": None,
    "max_requests_per_minute": None,
    "max_requests_per_user_per_minute": None,
    "max_tries": None,
    "max_concurrency": None,
    "state_dir": None,
    "ledger_wait_seconds": None,
    "default_action": None,
    "sync_log": None,
    "sync_log_retention_days": None,
}


def test_a_null_setting_means_its_declared_default():
    assert settings.check_settings(NULLS) == []
    built = settings.settings_from_config(NULLS)
    assert built.api_url == shared.API_URL.default
    assert built.request_timeout == shared.REQUEST_TIMEOUT.default
    assert built.max_concurrency == settings.MAX_CONCURRENCY.default
    assert built.state_dir == Path(settings.DEFAULT_STATE_DIR)
    assert built.ledger_wait_seconds == 0
    assert built.default is not None
    assert built.default.action == IDENTIFY
    assert built.sync_log is True
    assert built.sync_log_retention_days == settings.SYNC_LOG_RETENTION_DAYS.default == 30
    policy = shared.policy_from_config(NULLS, log=TargetRefiner.logger)
    assert policy.max_tries == shared.MAX_TRIES.default


def test_the_schema_declares_the_same_defaults():
    properties = settings.CONFIG_SCHEMA["properties"]
    assert properties["max_concurrency"]["default"] == settings.MAX_CONCURRENCY.default
    assert properties["max_requests_per_minute"]["default"] == shared.KEY_LIMIT_PER_MINUTE
    assert properties["max_requests_per_user_per_minute"]["default"] == (
        shared.USER_LIMIT_PER_MINUTE
    )


def test_checks_return_messages_naming_the_setting():
    assert settings.check_settings({"api_key": "k"}) == []
    assert shared.connection_errors({"max_tries": 0}) == [
        "Setting `max_tries` must be a positive number, got 0."
    ]
    assert shared.api_key_errors({"api_key": " "}) == [
        "Setting `api_key` is required (the Refiner REST API key)."
    ]
    errors = settings.check_settings({"api_key": "k", "max_reject_ratio": 2})
    assert errors == ["Setting `max_reject_ratio` must be between 0 and 1, got 2."]
    assert settings.check_settings({"api_key": "k", "sync_log_retention_days": 0}) == [
        "Setting `sync_log_retention_days` must be a positive number, got 0."
    ]
    assert settings.settings_from_config({"api_key": "k", "sync_log": False}).sync_log is False


def test_state_outbox_writes_once_holds_and_never_in_a_dry_run():
    written: list[dict] = []
    log = TargetRefiner.logger
    plain = StateOutbox(written.append, hold=False, dry_run=False, log=log)
    plain.put({"n": 1})
    plain.put({"n": 1})
    assert written == [{"n": 1}]
    held = StateOutbox(written.append, hold=True, dry_run=False, log=log)
    held.put({"n": 2})
    held.put({"n": 3})
    assert written == [{"n": 1}]
    held.release()
    assert written == [{"n": 1}, {"n": 3}]
    dry = StateOutbox(written.append, hold=False, dry_run=True, log=log)
    dry.put({"n": 4})
    assert written == [{"n": 1}, {"n": 3}]
