"""BATCH messages work out of the box (singer-sdk batch config)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from urllib.parse import urlparse

from tests.tap.taprun import run_tap


def test_contacts_as_jsonl_batches(emu, tmp_path):
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": f"file://{tmp_path}", "prefix": "contacts-"},
        "batch_size": 100,
    }
    run = run_tap(emu, ["contacts"], batch_config=batch_config)
    batches = [m for m in run.messages if m["type"] == "BATCH"]
    assert len(batches) == 3
    uuids = set()
    for message in batches:
        for url in message["manifest"]:
            with gzip.open(Path(urlparse(url).path), "rt") as handle:
                uuids |= {json.loads(line)["uuid"] for line in handle}
    assert len(uuids) == 300
    assert run.records("contacts") == []


def test_responses_batches_keep_window_bookmarks(emu, tmp_path):
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": f"file://{tmp_path}", "prefix": "responses-"},
        "batch_size": 200,
    }
    run = run_tap(emu, ["responses"], start_date="2026-03-01T00:00:00Z", batch_config=batch_config)
    assert [m for m in run.messages if m["type"] == "BATCH"]
    bookmark = run.last_state["bookmarks"]["responses"]
    assert bookmark["replication_key"] == "last_data_reception_at"
