"""JSON shapes of §4: contacts, accounts, responses, forms, segments and webhook envelopes.

Rendering happens only for the rows of the page being served, which keeps big stores cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from refiner_emulator.timefmt import iso, plain

if TYPE_CHECKING:
    from collections.abc import Callable

    from refiner_emulator.store import Account, Contact, Form, HistoryEntry, Response, Store


def account_full(account: Account | None) -> dict[str, Any] | None:
    """The account object inside a contact (§4.1)."""
    if account is None:
        return None
    return {
        "uuid": account.uuid,
        "remote_id": account.remote_id,
        "domain": account.domain,
        "display_name": account.display_name,
        "first_seen_at": iso(account.first_seen_at),
        "last_seen_at": iso(account.last_seen_at),
        "attributes": dict(account.attributes),
    }


def account_short(account: Account | None) -> dict[str, Any] | None:
    """The account object inside a response's contact (§4.2)."""
    if account is None:
        return None
    return {
        "uuid": account.uuid,
        "remote_id": account.remote_id,
        "display_name": account.display_name,
        "domain": account.domain,
    }


def contact_attributes(contact: Contact) -> dict[str, Any]:
    """Auto fields (as strings, like the webhook captures) plus traits and survey answers."""
    attributes: dict[str, Any] = {
        "email": contact.email,
        "name": contact.display_name,
        "first_seen_at": iso(contact.first_seen_at),
        "last_seen_at": iso(contact.last_seen_at),
        "form_submissions_count": str(contact.submissions_count),
        "form_views_count": str(contact.views_count),
        "last_form_submission_at": iso(contact.last_form_submission_at),
        "last_form_view_at": iso(contact.last_form_view_at),
    }
    attributes.update(contact.attributes)
    return attributes


def contact(store: Store, c: Contact) -> dict[str, Any]:
    """The full contact object (GET /contacts, GET /contact, webhook envelope)."""
    segments = []
    for segment_uuid, (entered, updated) in sorted(c.segments.items(), key=lambda kv: kv[1][0]):
        segment = store.segments.get(segment_uuid)
        if segment is not None:
            segments.append(
                {
                    "uuid": segment.uuid,
                    "name": segment.name,
                    "created_at": iso(entered),
                    "updated_at": iso(updated),
                }
            )
    return {
        "uuid": c.uuid,
        "remote_id": c.remote_id,
        "email": c.email,
        "display_name": c.display_name,
        "first_seen_at": iso(c.first_seen_at),
        "last_seen_at": iso(c.last_seen_at),
        "last_form_submission_at": iso(c.last_form_submission_at),
        "last_tracking_event_at": iso(c.last_tracking_event_at),
        "attributes": contact_attributes(c),
        "segments": segments,
        "account": account_full(c.account),
    }


def tag(t: Any) -> dict[str, str]:  # noqa: ANN401 - store.Tag, kept loose for the webhook copy
    """A tag as listed on a response."""
    return {"uuid": t.uuid, "name": t.name}


def response(
    r: Response, *, with_attributes: bool = False, fmt: Callable[[float | None], str | None] = iso
) -> dict[str, Any]:
    """A response object (§4.2); ``fmt`` chooses ISO or plain timestamps."""
    c = r.contact
    contact_obj: dict[str, Any] = {
        "uuid": c.uuid,
        "remote_id": c.remote_id,
        "email": c.email,
        "display_name": c.display_name,
        "account": account_short(c.account),
    }
    if with_attributes:
        contact_obj["attributes"] = contact_attributes(c)
    return {
        "uuid": r.uuid,
        "first_shown_at": fmt(r.first_shown_at),
        "last_shown_at": fmt(r.last_shown_at),
        "show_counter": r.show_counter,
        "first_data_reception_at": fmt(r.first_data_reception_at),
        "last_data_reception_at": fmt(r.last_data_reception_at),
        "completed_at": fmt(r.completed_at),
        "received_at": fmt(r.received_at),
        "dismissed_at": fmt(r.dismissed_at),
        "form": {"uuid": r.form.uuid, "name": r.form.name},
        "data": dict(r.data),
        "tags": [tag(t) for t in r.tags],
        "contact": contact_obj,
    }


def timestamp_formatter(name: str) -> Callable[[float | None], str | None]:
    """``iso`` or ``plain`` (the §6.12 variant switch)."""
    return plain if name == "plain" else iso


def form(
    f: Form, *, info: bool, config: bool, stats: tuple[int, int, int | None, int | None]
) -> dict[str, Any]:
    """A form list item; ``stats`` = (responses, views, first view, last view)."""
    item: dict[str, Any] = {"uuid": f.uuid, "name": f.name}
    if info:
        responses, views, first_view, last_view = stats
        item.update(
            {
                "channels": list(f.channels),
                "created_at": iso(f.created_at),
                "updated_at": iso(f.updated_at),
                "published_at": iso(f.published_at),
                "archived_at": iso(f.archived_at),
                "first_form_view_at": iso(first_view),
                "last_form_view_at": iso(last_view),
                "responses_count": responses,
                "views_count": views,
                "folder": {},
                "page_url": f"https://survey.refiner.io/{f.uuid}",
            }
        )
    if config:
        item["config"] = {"form_elements": [dict(e) for e in f.elements]}
    return item


def history(entry: HistoryEntry) -> dict[str, Any]:
    """A row of GET /forms/history."""
    return {
        "uuid": entry.uuid,
        "action": entry.action,
        "snapshot": entry.snapshot,
        "created_at": iso(entry.created_at),
    }


def webhook_envelope(
    store: Store, c: Contact, event: str, r: Response | None = None
) -> dict[str, Any]:
    """§5 payload: contact + project_uuid + triggered_event (+ form + response)."""
    body = contact(store, c)
    body.pop("last_form_submission_at", None)
    body.pop("last_tracking_event_at", None)
    body["project_uuid"] = store.project_uuid
    body["triggered_event"] = event
    if r is not None:
        body["form"] = {"uuid": r.form.uuid, "name": r.form.name}
        body["response"] = {
            "uuid": r.uuid,
            "first_shown_at": iso(r.first_shown_at),
            "last_shown_at": iso(r.last_shown_at),
            "show_counter": r.show_counter,
            "first_data_reception_at": iso(r.first_data_reception_at),
            "last_data_reception_at": iso(r.last_data_reception_at),
            "completed_at": iso(r.completed_at),
            "dismissed_at": iso(r.dismissed_at),
            "received_at": iso(r.received_at),
            "data": dict(r.data),
            "tags": [tag(t) for t in r.tags],
        }
    return body
