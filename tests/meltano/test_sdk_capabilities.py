"""The Singer SDK capabilities meltano.yml declares, exercised through the real console scripts.

``--test``, BATCH messages (tap -> files -> target-refiner), stream maps and schema flattening.
These run the installed ``tap-refiner``/``target-refiner`` executables as Meltano would, without
Meltano itself, so they also run in ``make unit``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest

BIN = Path(sys.executable).parent
BATCH_STREAMS = ("contacts", "segments", "segment_memberships", "forms", "questions", "responses")


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def run(executable: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(BIN / executable), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{executable} {args} failed:\n{result.stderr[-4000:]}"
    return result


def without_run_id(line: dict) -> str:
    return json.dumps({k: v for k, v in line.items() if k != "run_id"}, sort_keys=True)


def messages(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def records(msgs: list[dict], stream: str) -> list[dict]:
    return [m["record"] for m in msgs if m["type"] == "RECORD" and m["stream"] == stream]


def schema_of(msgs: list[dict], stream: str) -> dict:
    return next(m["schema"] for m in msgs if m["type"] == "SCHEMA" and m["stream"] == stream)


@pytest.fixture
def tap_config(fresh_emulator, tmp_path):
    def _config(**settings) -> Path:
        config = {"api_key": fresh_emulator.api_key, "api_url": fresh_emulator.api_url}
        return write_json(tmp_path / "tap-config.json", {**config, **settings})

    return _config


@pytest.fixture
def catalog_for(tap_config, tmp_path):
    """A catalog (from --discover) with only the named streams selected."""

    def _catalog(*streams: str) -> Path:
        catalog = json.loads(run("tap-refiner", "--config", str(tap_config()), "--discover").stdout)
        for entry in catalog["streams"]:
            for metadata in entry["metadata"]:
                if metadata["breadcrumb"] == []:
                    metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
        return write_json(tmp_path / "catalog.json", catalog)

    return _catalog


def test_test_mode_emits_one_record_per_stream(tap_config):
    msgs = messages(run("tap-refiner", "--config", str(tap_config()), "--test").stdout)
    counts = Counter(m["stream"] for m in msgs if m["type"] == "RECORD")
    streams = {m["stream"] for m in msgs if m["type"] == "SCHEMA"}
    # Declared, and empty without `webhook_store` / `sync_log_store`.
    store_streams = {"webhook_events", "sync_runs", "sync_changelog", "sync_snapshot"}
    assert store_streams <= streams
    assert counts == dict.fromkeys(streams - store_streams, 1)


BATCH_CONFIG = {
    "encoding": {"format": "jsonl", "compression": "gzip"},
    "storage": {"root": "file://{root}", "prefix": "refiner-"},
    "batch_size": 250,
}


@pytest.fixture
def record_and_batch_runs(tap_config, catalog_for, tmp_path):
    """The same streams synced twice: as RECORD messages, then as BATCH files (JSONL, gzip)."""
    catalog = str(catalog_for(*BATCH_STREAMS))
    record_run = run("tap-refiner", "--config", str(tap_config()), "--catalog", catalog)
    batch_config = json.loads(json.dumps(BATCH_CONFIG).replace("{root}", str(tmp_path / "batches")))
    config = tap_config(batch_config=batch_config)
    batch_run = run("tap-refiner", "--config", str(config), "--catalog", catalog)
    return messages(record_run.stdout), messages(batch_run.stdout)


def test_batch_files_hold_every_record(record_and_batch_runs):
    record_msgs, batch_msgs = record_and_batch_runs
    record_counts = Counter(m["stream"] for m in record_msgs if m["type"] == "RECORD")
    assert set(record_counts) == set(BATCH_STREAMS)
    assert not [m for m in batch_msgs if m["type"] == "RECORD"]
    batch_counts: Counter[str] = Counter()
    for message in (m for m in batch_msgs if m["type"] == "BATCH"):
        assert message["encoding"] == {"format": "jsonl", "compression": "gzip"}
        for url in message["manifest"]:
            with gzip.open(Path(urlparse(url).path), "rt", encoding="utf-8") as handle:
                batch_counts[message["stream"]] += sum(1 for line in handle if line.strip())
    assert batch_counts == record_counts


def dry_run(msgs: list[dict], out: Path, emu) -> tuple[list[dict], list[dict]]:
    """Feed the contacts messages to target-refiner with ``dry_run``; (would-be calls, rejects).

    A dry run sends nothing but still checks the key and URL (``GET /v1/``), hence ``emu``.
    """
    out.mkdir()
    config = {
        "api_key": emu.api_key,
        "api_url": emu.api_url,
        "dry_run": True,
        "state_dir": str(out),
        "dry_run_path": str(out / "dry-run.jsonl"),
        "dead_letter_path": str(out / "dead-letter.jsonl"),
        "default_action": "none",
        "mappings": {
            "contacts": {
                "action": "identify",
                "user_id": "remote_id",
                "email": "email",
                "attributes": ["display_name"],
            }
        },
        "progress_interval_seconds": 0,
    }
    stdin = "".join(json.dumps(m) + "\n" for m in msgs if m.get("stream", "contacts") == "contacts")
    run("target-refiner", "--config", str(write_json(out / "config.json", config)), stdin=stdin)
    return tuple(  # type: ignore[return-value]
        [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        for path in (out / "dry-run.jsonl", out / "dead-letter.jsonl")
    )


def test_target_refiner_dry_run_receives_every_record(record_and_batch_runs, tmp_path, emulator):
    record_msgs, _ = record_and_batch_runs
    contacts = len(records(record_msgs, "contacts"))
    sent, rejected = dry_run(record_msgs, tmp_path / "from-records", emulator)
    assert len(sent) + len(rejected) == contacts
    assert len(sent) > 0


def test_target_refiner_dry_run_receives_every_batch_record(
    record_and_batch_runs, tmp_path, emulator
):
    record_msgs, batch_msgs = record_and_batch_runs
    sent_records, rejected_records = dry_run(record_msgs, tmp_path / "from-records", emulator)
    sent, rejected = dry_run(batch_msgs, tmp_path / "from-batch", emulator)
    assert len(sent) + len(rejected) == len(records(record_msgs, "contacts"))
    # The same calls; each run's lines carry its own run_id.
    assert sorted(map(without_run_id, sent)) == sorted(map(without_run_id, sent_records))
    assert len(rejected) == len(rejected_records)


def test_stream_maps_hash_the_email_and_drop_a_field(tap_config, catalog_for):
    catalog = str(catalog_for("contacts"))
    plain = records(
        messages(run("tap-refiner", "--config", str(tap_config()), "--catalog", catalog).stdout),
        "contacts",
    )
    maps = {
        "contacts": {
            "email_hash": "md5(email) if email else None",
            "email": "__NULL__",
            "attributes": "__NULL__",
        }
    }
    msgs = messages(
        run(
            "tap-refiner", "--config", str(tap_config(stream_maps=maps)), "--catalog", catalog
        ).stdout
    )
    mapped = records(msgs, "contacts")
    schema = schema_of(msgs, "contacts")["properties"]
    assert "email" not in schema
    assert "attributes" not in schema
    assert "email_hash" in schema
    assert len(mapped) == len(plain) > 0
    by_uuid = {row["uuid"]: row for row in plain}
    for row in mapped:
        assert "email" not in row
        assert "attributes" not in row
        email = by_uuid[row["uuid"]]["email"]
        assert row["email_hash"] == (hashlib.md5(email.encode()).hexdigest() if email else None)  # noqa: S324


def test_schema_flattening_expands_nested_objects(tap_config, catalog_for):
    catalog = str(catalog_for("responses"))
    config = tap_config(flattening_enabled=True, flattening_max_depth=1)
    msgs = messages(run("tap-refiner", "--config", str(config), "--catalog", catalog).stdout)
    rows = records(msgs, "responses")
    properties = schema_of(msgs, "responses")["properties"]
    assert rows
    assert {"form__uuid", "form__name", "contact__uuid"} <= set(properties)
    assert "form" not in properties
    for row in rows:
        assert not any(isinstance(value, dict) for value in row.values()), row
        assert row["form__uuid"] == row["form_uuid"]
