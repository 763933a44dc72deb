"""Rows that restructure API objects: answers, questions, segment memberships.

Everything else is the API's object projected onto its stream's schema
(``tap_refiner.projection``), which every row passes through last anyway; these functions only
say which API values make which row. Pure functions, one per row kind.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tap_refiner.timestamps import normalize

Record = dict[str, Any]


def response_form(response: Record) -> Record | None:
    """A ``GET /responses`` item's ``form``; None when missing, empty or not an object."""
    form = response.get("form")
    return form if isinstance(form, dict) and form else None


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


def answers(response: Record) -> list[Record]:
    """One row per question of a ``GET /responses`` item (its ``data`` keys)."""
    data = response.get("data")
    if not isinstance(data, dict):
        return []
    form = response_form(response)
    contact = response.get("contact")
    person: Record = contact if isinstance(contact, dict) else {}
    return [
        {
            "response_uuid": response.get("uuid"),
            "question_id": str(question_id),
            "form_uuid": form.get("uuid") if form else None,
            "value": as_text(value),
            "value_number": as_number(value),
            "answered_at": normalize(response.get("last_data_reception_at")),
            "contact_uuid": person.get("uuid"),
            "contact_remote_id": person.get("remote_id"),
        }
        for question_id, value in data.items()
    ]


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
