"""singer-sdk standard tap tests, run against the session emulator."""

from __future__ import annotations

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from refiner_webhooks.event import WebhookEvent
from refiner_webhooks.store import EventStore
from refiner_webhooks.testing import sample_event
from tap_refiner.tap import TapRefiner
from target_refiner.sync_log.sqlite import SqliteSyncLog
from tests.tap import sync_log_scenario

# The emulator's URL is known only once the session fixture started it; the runner keeps this
# dict by reference, so the fixture below fills it in before the first sync.
CONFIG: dict = {
    "api_key": "demo-key",
    "api_url": "http://127.0.0.1:9/v1",
    "start_date": "2026-03-01T00:00:00Z",
    "reports_days": 2,
    "max_requests_per_minute": 100000,
}

_StandardTests = get_tap_test_class(
    TapRefiner,
    config=CONFIG,
    suite_config=SuiteConfig(max_records_limit=200),
)


class TestTapRefiner(_StandardTests):
    """Standard tests: discovery, CLI, sync, schema/record conformance per stream."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _point_at_emulator(cls, emulator, tmp_path_factory):
        CONFIG["api_url"] = emulator.api_url
        CONFIG["api_key"] = emulator.api_key
        # webhook_events reads the receiver's store: give it one with a few real-shaped events.
        store_path = tmp_path_factory.mktemp("webhooks") / "events.sqlite"
        store = EventStore(store_path)
        try:
            store.insert_many([WebhookEvent.from_payload(sample_event(n)) for n in (1, 2, 3)])
        finally:
            store.close()
        CONFIG["webhook_store"] = str(store_path)
        # The sync-log streams read a target's ledger file: one run, finished, in it.
        ledger = tmp_path_factory.mktemp("state") / "ledger-project-test.sqlite"
        sync_log = SqliteSyncLog(ledger)
        try:
            run = sync_log_scenario.write_first(sync_log)
            sync_log_scenario.write_second(sync_log, run)
        finally:
            sync_log.close()
        CONFIG["sync_log_store"] = str(ledger)
