"""API objects -> records of exactly the stream schemas (``tap_refiner.schemas``).

Pure functions, one per record kind. They pick the schema's keys, normalise timestamps to UTC
ISO 8601 and leave customer-owned objects (attributes, answers, config) untouched. Because the
output already conforms, the SDK's per-record recursive conformance is not needed.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tap_refiner.timestamps import normalize

Record = dict[str, Any]


def account(raw: Any) -> Record | None:  # noqa: ANN401 - the API's JSON
    """A contact's account (``null`` when users are not grouped)."""
    if not isinstance(raw, dict):
        return None
    return {
        "uuid": raw.get("uuid"),
        "remote_id": raw.get("remote_id"),
        "domain": raw.get("domain"),
        "display_name": raw.get("display_name"),
        "first_seen_at": normalize(raw.get("first_seen_at")),
        "last_seen_at": normalize(raw.get("last_seen_at")),
        "attributes": raw.get("attributes"),
    }


def contact_segment(raw: Record) -> Record:
    """One entry of a contact's ``segments``."""
    return {
        "uuid": raw.get("uuid"),
        "name": raw.get("name"),
        "created_at": normalize(raw.get("created_at")),
        "updated_at": normalize(raw.get("updated_at")),
    }


def contact(raw: Record) -> Record:
    """A ``GET /contacts`` item."""
    segments = raw.get("segments")
    return {
        "uuid": raw.get("uuid"),
        "remote_id": raw.get("remote_id"),
        "email": raw.get("email"),
        "display_name": raw.get("display_name"),
        "first_seen_at": normalize(raw.get("first_seen_at")),
        "last_seen_at": normalize(raw.get("last_seen_at")),
        "last_form_submission_at": normalize(raw.get("last_form_submission_at")),
        "last_tracking_event_at": normalize(raw.get("last_tracking_event_at")),
        "attributes": raw.get("attributes"),
        "segments": [contact_segment(s) for s in segments] if segments is not None else None,
        "account": account(raw.get("account")),
    }


def segment(raw: Record) -> Record:
    """A ``GET /segments`` item."""
    return {"uuid": raw.get("uuid"), "name": raw.get("name"), "is_manual": raw.get("is_manual")}


def segment_membership(raw_contact: Record, segment_uuid: str) -> Record | None:
    """The row saying when a contact entered ``segment_uuid``; None when it is not a member."""
    for entry in raw_contact.get("segments") or ():
        if entry.get("uuid") == segment_uuid:
            return {
                "segment_uuid": segment_uuid,
                "contact_uuid": raw_contact.get("uuid"),
                "remote_id": raw_contact.get("remote_id"),
                "email": raw_contact.get("email"),
                "entered_at": normalize(entry.get("created_at")),
                "updated_at": normalize(entry.get("updated_at")),
            }
    return None


def response(raw: Record) -> Record:
    """A ``GET /responses`` item; ``form_uuid`` is lifted out of ``form`` for joins."""
    form = raw.get("form") if isinstance(raw.get("form"), dict) else None
    person = raw.get("contact")
    return {
        "uuid": raw.get("uuid"),
        "form_uuid": form.get("uuid") if form else None,
        "form": {"uuid": form.get("uuid"), "name": form.get("name")} if form else None,
        "first_shown_at": normalize(raw.get("first_shown_at")),
        "last_shown_at": normalize(raw.get("last_shown_at")),
        "show_counter": raw.get("show_counter"),
        "first_data_reception_at": normalize(raw.get("first_data_reception_at")),
        "last_data_reception_at": normalize(raw.get("last_data_reception_at")),
        "completed_at": normalize(raw.get("completed_at")),
        "received_at": normalize(raw.get("received_at")),
        "dismissed_at": normalize(raw.get("dismissed_at")),
        "data": raw.get("data"),
        "tags": raw.get("tags"),
        "contact": {
            "uuid": person.get("uuid"),
            "remote_id": person.get("remote_id"),
            "email": person.get("email"),
            "display_name": person.get("display_name"),
            "attributes": person.get("attributes"),
            "account": account(person.get("account")),
        }
        if isinstance(person, dict)
        else None,
    }


def as_text(value: Any) -> str | None:  # noqa: ANN401 - the API's JSON
    """An answer as text: strings as they are, lists/objects as JSON, booleans as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, list, dict)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def as_number(value: Any) -> float | int | None:  # noqa: ANN401 - the API's JSON
    """The numeric value of an answer (``9`` or ``"9"``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def answers(response_record: Record) -> list[Record]:
    """One row per question of a shaped response record (its ``data`` keys)."""
    data = response_record.get("data")
    if not isinstance(data, dict):
        return []
    person = response_record.get("contact") or {}
    return [
        {
            "response_uuid": response_record["uuid"],
            "question_id": str(question_id),
            "form_uuid": response_record.get("form_uuid"),
            "value": as_text(value),
            "value_number": as_number(value),
            "answered_at": response_record.get("last_data_reception_at"),
            "contact_uuid": person.get("uuid"),
            "contact_remote_id": person.get("remote_id"),
        }
        for question_id, value in data.items()
    ]


def form(raw: Record) -> Record:
    """A ``GET /forms`` item with info and config."""
    return {
        "uuid": raw.get("uuid"),
        "name": raw.get("name"),
        "channels": raw.get("channels"),
        "created_at": normalize(raw.get("created_at")),
        "updated_at": normalize(raw.get("updated_at")),
        "published_at": normalize(raw.get("published_at")),
        "archived_at": normalize(raw.get("archived_at")),
        "first_form_view_at": normalize(raw.get("first_form_view_at")),
        "last_form_view_at": normalize(raw.get("last_form_view_at")),
        "responses_count": raw.get("responses_count"),
        "views_count": raw.get("views_count"),
        "folder": raw.get("folder"),
        "page_url": raw.get("page_url"),
        "config": raw.get("config"),
    }


def questions(raw_form: Record) -> list[Record]:
    """One row per element of a form's ``config.form_elements``."""
    config = raw_form.get("config")
    elements = config.get("form_elements") if isinstance(config, dict) else None
    rows: list[Record] = []
    for position, element in enumerate(elements or ()):
        if not isinstance(element, dict) or element.get("id") is None:
            continue
        required = element.get("required")
        rows.append(
            {
                "form_uuid": raw_form.get("uuid"),
                "question_id": str(element["id"]),
                "position": position,
                "type": element.get("type"),
                "text": element.get("text"),
                "required": bool(required) if required is not None else None,
                "options": element.get("options"),
            }
        )
    return rows


USAGE_KEYS = (
    "plan",
    "mtu_count",
    "mtu_limit",
    "mpv_count",
    "mpv_limit",
    "msr_count",
    "msr_limit",
    "mte_count",
)


def account_usage(body: Record, extracted_at: str) -> Record:
    """The ``GET /account`` body as one snapshot row."""
    raw = body.get("subscription")
    subscription: Record = raw if isinstance(raw, dict) else {}
    return {
        "extracted_at": extracted_at,
        **{key: subscription.get(key) for key in USAGE_KEYS},
        "subscription": subscription,
        "environments": body.get("environments"),
    }


REPORT_KEYS = ("count", "nps", "csat", "average", "sum", "views", "responses")


def report(body: Record, *, form_uuid: str, report_type: str, day: str) -> Record:
    """One ``GET /reporting`` answer for one form, type and day."""
    return {
        "form_uuid": form_uuid,
        "type": report_type,
        "date": day,
        **{key: body.get(key) for key in REPORT_KEYS},
        "datapoints": body.get("datapoints"),
        "data": body.get("data"),
    }
