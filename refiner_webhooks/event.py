"""One received webhook: the columns we index and the key that makes redeliveries harmless.

Refiner documents no delivery id and no retry policy, so a redelivered event can only be
recognised by its content. The dedupe key is the SHA-256 of a canonical JSON array of the fields
that identify *what happened*, not of the whole body, so an envelope re-rendered on retry (a
fresher ``last_seen_at`` or attribute) still counts as the same event:

1. ``triggered_event``;
2. the contact uuid (top-level ``uuid``);
3. the response uuid (``response.uuid``, null for segment events);
4. the response's timestamps ``first_shown_at``, ``last_shown_at``, ``first_data_reception_at``,
   ``last_data_reception_at``, ``completed_at``, ``dismissed_at``;
5. the response's ``tags`` (sorted), so tagging one response twice with different tags gives
   two events;
6. the contact's segments as sorted ``(uuid, created_at)`` pairs, so entering two segments gives
   two events.

A body with neither a contact uuid nor a response uuid cannot be identified that way; its key is
the SHA-256 of the whole canonical body instead.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

RESPONSE_TIMESTAMPS = (
    "first_shown_at",
    "last_shown_at",
    "first_data_reception_at",
    "last_data_reception_at",
    "completed_at",
    "dismissed_at",
)


def canonical_json(value: Any) -> str:  # noqa: ANN401 - any JSON value
    """Compact JSON with sorted keys: equal values always give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _dict(value: Any) -> dict[str, Any]:  # noqa: ANN401 - any JSON value
    return value if isinstance(value, dict) else {}


def _str_or_none(value: Any) -> str | None:  # noqa: ANN401 - any JSON value
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _segments(payload: dict[str, Any]) -> list[dict[str, Any]]:
    segments = payload.get("segments")
    return [s for s in segments if isinstance(s, dict)] if isinstance(segments, list) else []


def dedupe_key(payload: dict[str, Any]) -> str:
    """The SHA-256 (hex) that a redelivery of the same event shares; see the module doc."""
    response = _dict(payload.get("response"))
    contact_uuid = payload.get("uuid")
    response_uuid = response.get("uuid")
    if contact_uuid is None and response_uuid is None:
        identity: Any = ["body", payload]
    else:
        tags = response.get("tags")
        identity = [
            payload.get("triggered_event"),
            contact_uuid,
            response_uuid,
            [response.get(name) for name in RESPONSE_TIMESTAMPS],
            sorted(canonical_json(tag) for tag in tags) if isinstance(tags, list) else None,
            sorted([s.get("uuid"), s.get("created_at")] for s in _segments(payload)),
        ]
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()


@dataclass(frozen=True)
class WebhookEvent:
    """The indexed columns of one event, plus the body exactly as received (as JSON text)."""

    dedupe_key: str
    triggered_event: str | None
    contact_uuid: str | None
    remote_id: str | None
    email: str | None
    form_uuid: str | None
    response_uuid: str | None
    segment_uuids: list[str]
    payload: str

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> WebhookEvent:
        """Extract the columns; missing or oddly typed fields become ``None``, never errors."""
        segment_uuids = [str(s["uuid"]) for s in _segments(payload) if s.get("uuid") is not None]
        return cls(
            dedupe_key=dedupe_key(payload),
            triggered_event=_str_or_none(payload.get("triggered_event")),
            contact_uuid=_str_or_none(payload.get("uuid")),
            remote_id=_str_or_none(payload.get("remote_id")),
            email=_str_or_none(payload.get("email")),
            form_uuid=_str_or_none(_dict(payload.get("form")).get("uuid")),
            response_uuid=_str_or_none(_dict(payload.get("response")).get("uuid")),
            segment_uuids=segment_uuids,
            payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        )
