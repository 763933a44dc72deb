"""Settings: documented, validated at init with messages naming the setting, key never shown."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_refiner.tap import CONFIG_SCHEMA, TapRefiner

KEY = "super-secret-key-value"
SETTINGS = [
    "api_key",
    "api_url",
    "start_date",
    "page_length",
    "request_timeout",
    "max_requests_per_minute",
    "max_tries",
    "contacts_segment_uuid",
    "contacts_form_uuid",
    "contacts_order_by",
    "contacts_search",
    "max_contacts",
    "responses_include",
    "with_attributes",
    "form_uuids",
    "responses_window_days",
    "responses_lookback_hours",
    "report_types",
    "reports_days",
    "reports_lookback_days",
    "max_concurrent_requests",
]


def test_every_setting_is_declared_and_described():
    properties = CONFIG_SCHEMA["properties"]
    assert set(SETTINGS) <= set(properties)
    for name, spec in properties.items():
        assert spec.get("description"), name
    assert properties["api_key"]["secret"] is True
    assert CONFIG_SCHEMA["required"] == ["api_key"]


def test_about_markdown_documents_every_setting():
    out = subprocess.run(
        [sys.executable, "-m", "tap_refiner.tap", "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in SETTINGS:
        assert f"| {name} " in out, name
    for capability in (
        "catalog",
        "discover",
        "state",
        "about",
        "stream-maps",
        "schema-flattening",
        "batch",
    ):
        assert capability in out


def test_defaults():
    config = TapRefiner(config={"api_key": KEY}).config
    assert config["api_url"] == "https://api.refiner.io/v1"
    assert config["page_length"] == 1000
    assert config["request_timeout"] == 60
    assert config["max_requests_per_minute"] == 4000
    assert config["max_tries"] == 8
    assert config["responses_include"] == "completed"
    assert config["responses_window_days"] == 30
    assert config["responses_lookback_hours"] == 24
    assert config["report_types"] == ["nps", "csat", "ratings"]
    assert config["reports_days"] == 30
    assert config["reports_lookback_days"] == 3
    assert config["max_concurrent_requests"] == 16


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"page_length": 1001}, "page_length"),
        ({"page_length": 0}, "page_length"),
        ({"contacts_order_by": "email"}, "contacts_order_by"),
        ({"responses_include": "partial"}, "responses_include"),
        ({"report_types": ["nps", "bogus"]}, "report_types"),
        ({"max_tries": 0}, "max_tries"),
        ({"start_date": "yesterday-ish"}, "start_date"),
        ({"api_url": "ftp://example.com/v1"}, "api_url"),
    ],
)
def test_invalid_settings_fail_at_init_naming_the_setting(settings, named):
    with pytest.raises(ConfigValidationError) as info:
        TapRefiner(config={"api_key": KEY, **settings})
    text = " ".join(info.value.errors)
    assert named in text
    assert KEY not in text


def test_missing_api_key_is_named():
    with pytest.raises(ConfigValidationError) as info:
        TapRefiner(config={})
    assert "api_key" in " ".join(info.value.errors)


def test_invalid_setting_stops_cli_before_any_request(fresh_emulator, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"api_key": KEY, "api_url": fresh_emulator.api_url, "page_length": 5000})
    )
    result = subprocess.run(
        [sys.executable, "-m", "tap_refiner.tap", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "page_length" in result.stderr
    assert KEY not in result.stderr + result.stdout
    assert fresh_emulator.calls() == []
