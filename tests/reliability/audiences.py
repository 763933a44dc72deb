"""Helpers of the mirror_segment tests: audience input, and what the emulator's segment holds."""

from __future__ import annotations

import json
from typing import Any

AUDIENCE = "audience"
AUDIENCE_SCHEMA = {
    "type": "SCHEMA",
    "stream": AUDIENCE,
    "key_properties": [],
    "schema": {
        "type": "object",
        # `segment`: the column of the mappings with `segment_uuid_field: segment`.
        "properties": {
            "user_id": {"type": ["integer", "string", "null"]},
            "email": {},
            "segment": {},
        },
    },
}


def audience(
    ids, *, state: Any = None, version: int | None = None, rows: list[dict] | None = None
) -> list[dict[str, Any]]:
    """SCHEMA, one row per user id (and ``rows``), then a STATE (``{"audience": n}`` by default)."""
    messages: list[dict[str, Any]] = [AUDIENCE_SCHEMA]
    if version is not None:
        messages.append({"type": "ACTIVATE_VERSION", "stream": AUDIENCE, "version": version})
    for row in [*({"user_id": i} for i in ids), *(rows or [])]:
        message: dict[str, Any] = {"type": "RECORD", "stream": AUDIENCE, "record": row}
        if version is not None:
            message["version"] = version
        messages.append(message)
    messages.append({"type": "STATE", "value": {"audience": len(ids)} if state is None else state})
    return messages


def mirror_config(config: dict[str, Any], segment: str, **mapping: Any) -> dict[str, Any]:
    """``config`` with the audience stream mirrored into ``segment``."""
    entry = {"action": "mirror_segment", "user_id": "user_id", "email": "email", **mapping}
    if "segment_uuid_field" not in mapping:
        entry["segment_uuid"] = segment
    return {**config, "mappings": {AUDIENCE: entry}}


def members(emu, segment: str) -> list[dict[str, Any]]:
    """Every contact in the segment, as the API lists it."""
    return emu.api.items("/contacts", segment_uuid=segment)


def member_ids(emu, segment: str) -> set[int]:
    """The numeric user ids of the segment's members (the tests' users are 1, 2, ...)."""
    return {int(c["remote_id"]) for c in members(emu, segment) if str(c["remote_id"]).isdigit()}


def jsonl(path) -> list[dict[str, Any]]:
    """The objects of a JSONL file (dead-letter, dry run)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def last_seq(emu) -> int:
    calls = emu.calls()
    return calls[-1]["seq"] if calls else 0


def sync_calls(emu, since: int) -> list[dict[str, Any]]:
    """The sync-segment calls after ``since`` (POST adds, DELETE removes)."""
    return emu.calls(path="/v1/sync-segment", since_seq=since)


def by_method(calls: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in calls:
        counts[call["method"]] = counts.get(call["method"], 0) + 1
    return counts
