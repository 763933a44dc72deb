"""singer-sdk standard target tests, run against the session emulator."""

from __future__ import annotations

import importlib.resources
import io
import json

import pytest
from singer_sdk.testing import get_target_test_class, target_test_streams
from singer_sdk.testing.runners import TargetTestRunner

from target_refiner.target import TargetRefiner

# The emulator's URL is known only once the session fixture started it; the runner keeps this
# dict by reference, so the fixture below fills it in before each test.
CONFIG: dict = {
    "api_key": "demo-key",
    "api_url": "http://127.0.0.1:9/v1",
    "progress_interval_seconds": 0,
    "max_requests_per_user_per_minute": 100000,
    "max_requests_per_minute": 100000,
    # Mapped as a user would: the SDK's streams whose id column `default_action` does not read
    # would stop the run (no identity column), and a stream whose every row is rejected (arrays
    # are not traits) fails it.
    "mappings": {
        "TestCamelcase": {"user_id": "Id"},
        "ForecastingTypeToCategory": {"user_id": "Id"},
        "test:SpecialChars!in?attributes": {"user_id": "_id"},
        "test_array_data": {"user_id": "id", "exclude": ["fruits"]},
        "test_strings_in_arrays": {"user_id": "id", "exclude": ["strings"]},
    },
}
#: Tests whose streams name nobody at all: their rows are rejected by `default_action: none`.
NAMING_NOBODY = {"test_target_schema_no_properties"}

_StandardTests = get_target_test_class(TargetRefiner, config=CONFIG)


class TestTargetRefiner(_StandardTests):
    """The SDK's target suite (schema changes, odd names, missing fields, states, ...)."""

    @pytest.fixture(autouse=True)
    def _point_at_emulator(self, emulator, tmp_path, request):
        emulator.reset(data=True, config=True)
        CONFIG["api_url"] = emulator.api_url
        CONFIG["api_key"] = emulator.api_key
        CONFIG["state_dir"] = str(tmp_path / "state")
        CONFIG["default_action"] = (
            "none" if request.node.originalname in NAMING_NOBODY else "identify"
        )

    def test_target_multiple_state_messages(self, config, resource, runner):  # noqa: ARG002
        """Replaces the SDK's version, which pins the STATEs its 5-minute drain would emit.

        This target emits each STATE as soon as every row before it is acknowledged, so the
        valid outcome is: an in-order subsequence of the input STATEs that ends with the last.
        """
        path = importlib.resources.files(target_test_streams) / "multiple_state_messages.singer"
        text = path.read_text()
        sent = [m["value"] for m in map(json.loads, text.splitlines()) if m["type"] == "STATE"]
        test_runner = TargetTestRunner(TargetRefiner, config=CONFIG, input_io=io.StringIO(text))
        test_runner.sync_all()
        emitted = test_runner.state_messages
        assert emitted
        assert emitted[-1] == sent[-1]
        positions = [sent.index(s) for s in emitted]
        assert positions == sorted(set(positions))
