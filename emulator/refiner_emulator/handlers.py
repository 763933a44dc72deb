"""The Refiner v1 endpoints (§3): validate merged params, call the store, shape the reply.

Handlers are plain functions ``(ctx, params) -> dict`` so the HTTP pipeline in ``app`` can
apply auth, rate limits and faults uniformly; a client error is raised as ``ApiError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from refiner_emulator import query, render, timefmt
from refiner_emulator.reporting import report
from refiner_emulator.store import CONTACT_ORDERS, MAX_TAGS, MAX_TEXT, ApiError

if TYPE_CHECKING:
    from collections.abc import Callable

    from refiner_emulator.config import Config
    from refiner_emulator.page_writer import Pager
    from refiner_emulator.store import Contact, Form, Response, Segment, Store
    from refiner_emulator.webhooks import WebhookDispatcher

CONTACT_NOT_FOUND = "Contact not found"
FORM_LISTS = ("all", "published", "drafts", "archived", "all_with_archived")
IDENTIFY_RESERVED = frozenset({"id", "userId", "email", "account", "attributes", "api_key"})
RESPONSE_RESERVED = frozenset(
    {
        "id",
        "email",
        "uuid",
        "form_uuid",
        "date",
        "prevent_duplicates",
        "tags",
        "account",
        "responseData",
        "response_data",
        "api_key",
    }
)
OK = "ok"
MAX_ANSWER_CHARS = 10_000  # free-text answers are longer than traits


@dataclass(slots=True)
class Context:
    """What a handler may touch."""

    store: Store
    config: Config
    pager: Pager
    webhooks: WebhookDispatcher


# ------------------------------------------------------------------------------- helpers
def _trait(key: str, value: Any) -> Any:  # noqa: ANN401 - JSON scalar in and out
    """Validate one trait: scalar, strings ≤ 255 chars, ``*_at`` keys parsed as dates."""
    if isinstance(value, (dict, list)):
        raise ApiError(400, f"The {key} attribute must be a string, number, boolean or date.")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise ApiError(400, f"The {key} attribute may not be greater than {MAX_TEXT} characters.")
    if key.endswith("_at") and value not in (None, ""):
        if isinstance(value, bool):
            raise ApiError(400, f"The {key} attribute is not a valid date.")
        try:
            ts = float(value) if isinstance(value, (int, float)) else timefmt.parse_datetime(value)
        except ValueError as exc:
            raise ApiError(400, f"The {key} attribute is not a valid date.") from exc
        return timefmt.iso(ts)
    return value


def _traits(pairs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in pairs.items():
        if not key or len(key) > MAX_TEXT:
            raise ApiError(400, "Attribute names must be 1 to 255 characters long.")
        out[key] = _trait(key, value)
    return out


def _account(params: dict[str, Any]) -> dict[str, Any] | None:
    """The ``account`` object: ``id`` required, other keys are account traits."""
    value = params.get("account")
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise ApiError(400, "The account must be an object.")
    account_id = query.text_param(value, "id")
    if account_id is None:
        raise ApiError(400, "The account.id field is required.")
    rest = {k: v for k, v in value.items() if k != "id"}
    return {"id": account_id, **_traits(rest)}


def _user(params: dict[str, Any], *, alias: bool = False) -> tuple[str | None, str | None]:
    """``id`` (or ``userId`` when allowed) and ``email``; one of them is required."""
    remote_id = query.text_param(params, "id")
    if remote_id is None and alias:
        remote_id = query.text_param(params, "userId")
    email = query.email_param(params)
    if remote_id is None and email is None:
        raise ApiError(400, "The id field is required when email is not present.")
    return remote_id, email


def _one_identifier(params: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    given = {name: query.text_param(params, name) for name in ("id", "email", "uuid")}
    present = [name for name, value in given.items() if value is not None]
    if len(present) != 1:
        raise ApiError(400, "Exactly one of id, email or uuid is required.")
    return given["id"], given["email"], given["uuid"]


def _lookup(ctx: Context, params: dict[str, Any]) -> Contact:
    remote_id, email, uuid = _one_identifier(params)
    contact = ctx.store.find_contact(remote_id=remote_id, email=email, uuid=uuid)
    if contact is None:
        raise ApiError(404, CONTACT_NOT_FOUND)
    return contact


def _form(ctx: Context, params: dict[str, Any]) -> Form:
    form_uuid = query.text_param(params, "form_uuid", required=True)
    form = ctx.store.forms.get(form_uuid or "")
    if form is None:
        raise ApiError(404, "Form not found")
    return form


def _segment(ctx: Context, params: dict[str, Any]) -> Segment:
    segment_uuid = query.text_param(params, "segment_uuid", required=True)
    segment = ctx.store.segments.get(segment_uuid or "")
    if segment is None:
        raise ApiError(404, "Segment not found")
    if not segment.is_manual:
        raise ApiError(400, "Only manual segments can be synced.")
    return segment


def _tags(params: dict[str, Any], *, required: bool) -> list[str]:
    value = params.get("tags")
    if value in (None, "", []):
        if required:
            raise ApiError(400, "The tags field is required.")
        return []
    if not isinstance(value, list):
        raise ApiError(400, "The tags must be an array.")
    if len(value) > MAX_TAGS:
        raise ApiError(400, f"The tags may not have more than {MAX_TAGS} items.")
    names = []
    for item in value:
        if not isinstance(item, (str, int)) or isinstance(item, bool) or str(item) == "":
            raise ApiError(400, "Each tag must be a non-empty string.")
        if len(str(item)) > MAX_TEXT:
            raise ApiError(400, f"A tag may not be greater than {MAX_TEXT} characters.")
        names.append(str(item))
    return names


# ------------------------------------------------------------------------------- auth check
def key_check(ctx: Context, _params: dict[str, Any]) -> dict[str, Any]:
    """GET /v1/ (the variant ``key_check_without_project`` leaves ``project_uuid`` out)."""
    body = {
        "project_uuid": ctx.store.project_uuid,
        "project_name": ctx.store.project_name,
        "message": "Authentication successful",
    }
    if ctx.config.key_check_without_project:
        del body["project_uuid"]
    return body


# ------------------------------------------------------------------------------- contacts
def list_contacts(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GET /contacts."""
    order_by = query.text_param(params, "order_by") or "first_seen_at"
    if order_by not in CONTACT_ORDERS:
        raise ApiError(400, "The selected order_by is invalid.")
    req = ctx.pager.request(params, ctx.config.page_length_default, "/contacts")
    store = ctx.store
    keys = store.contact_keys(order_by)
    check = query.contact_filter(store, params)
    if check is not None:
        keys = [k for k in keys if check(store.contacts[k[-1]])]
    chunk, pagination = ctx.pager.page(keys, req)
    items = [render.contact(store, store.contacts[k[-1]]) for k in chunk]
    return {"items": items, "pagination": pagination}


def get_contact(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GET /contact."""
    return render.contact(ctx.store, _lookup(ctx, params))


def delete_contact(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DELETE /contact (cascades to the contact's responses)."""
    ctx.store.delete_contact(_lookup(ctx, params))
    return {"message": OK}


def identify_user(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """POST /identify-user: flat traits, or a nested ``attributes`` object, or both."""
    remote_id, email = _user(params, alias=True)
    flat = {k: v for k, v in params.items() if k not in IDENTIFY_RESERVED}
    nested = params.get("attributes")
    if nested is not None and nested != "" and not isinstance(nested, dict):
        raise ApiError(400, "The attributes must be an object.")
    traits = _traits({**flat, **(nested or {})})
    account = _account(params)
    contact = ctx.store.identify(remote_id, email, traits, account)
    return {"message": OK, "contact_uuid": contact.uuid}


def track_event(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """POST /track-event (and /track when the alias is on)."""
    remote_id, email = _user(params)
    event = query.text_param(params, "event", required=True)
    ctx.store.track(remote_id, email, event or "")
    return {"message": OK}


# ------------------------------------------------------------------------------- responses
def list_responses(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GET /responses, newest first (by last_shown_at with include=all)."""
    include = query.text_param(params, "include") or "completed"
    if include not in query.INCLUDE_VALUES:
        raise ApiError(400, "The selected include is invalid.")
    with_attributes = query.bool_param(params, "with_attributes", default=False)
    start = query.date_param(params, "date_range_start")
    end = query.date_param(params, "date_range_end")
    req = ctx.pager.request(params, ctx.config.page_length_default, "/responses")
    store = ctx.store
    index = store.response_by_shown if include == "all" else store.response_by_reception
    keys = query.date_window(index.keys, start, end)
    check = query.response_filter(params)
    if include == "completed":
        inner = check

        def check(r: Response) -> bool:
            return r.completed_at is not None and (inner is None or inner(r))

    if check is not None:
        keys = [k for k in keys if check(store.responses[k[-1]])]
    chunk, pagination = ctx.pager.page(keys, req)
    fmt = render.timestamp_formatter(ctx.config.timestamp_format)
    items = [
        render.response(store.responses[k[-1]], with_attributes=with_attributes, fmt=fmt)
        for k in chunk
    ]
    return {"items": items, "pagination": pagination}


def _answers(params: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {k: v for k, v in params.items() if k not in RESPONSE_RESERVED}
    for wrapper in ("responseData", "response_data"):
        nested = params.get(wrapper)
        if nested is None or nested == "":
            continue
        if not isinstance(nested, dict):
            raise ApiError(400, f"The {wrapper} must be an object.")
        data.update(nested)
    for key, value in data.items():
        scalar = value is None or isinstance(value, (str, int, float, bool))
        if not scalar and not (
            isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value)
        ):
            raise ApiError(400, f"The answer to {key} must be a scalar or a list of scalars.")
        if isinstance(value, str) and len(value) > MAX_ANSWER_CHARS:
            raise ApiError(400, f"The answer to {key} is too long.")
    if not data:
        raise ApiError(400, "No response data given.")
    return data


def _response_time(params: dict[str, Any]) -> int:
    value = params.get("date")
    if value is None or value == "":
        return timefmt.now()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if not isinstance(value, str):
        raise ApiError(400, "The date is not a valid date.")
    try:
        return int(timefmt.parse_datetime(value))
    except ValueError as exc:
        raise ApiError(400, "The date is not a valid date.") from exc


def store_response(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """POST /responses: import one completed response; fires the completed webhook."""
    form = _form(ctx, params)
    store = ctx.store
    contact_uuid = query.text_param(params, "uuid")
    remote_id = query.text_param(params, "id")
    email = query.email_param(params)
    if contact_uuid is None and remote_id is None and email is None:
        raise ApiError(400, "The id field is required when email and uuid are not present.")
    data = _answers(params)
    at = _response_time(params)
    prevent = query.bool_param(params, "prevent_duplicates", default=True)
    tags = _tags(params, required=False)
    account = _account(params)
    if remote_id is None and email is None:
        found = store.find_contact(uuid=contact_uuid)
        if found is None:
            raise ApiError(404, CONTACT_NOT_FOUND)
        contact = found
    else:
        contact = store.find_or_create_contact(remote_id, email)
    if account is not None:
        contact.account = store.upsert_account(account)
    if prevent:
        duplicate = store.find_duplicate(form, contact, data)
        if duplicate is not None:
            return {"message": OK, "uuid": duplicate.uuid}
    response = store.store_response(form, contact, data, at, tags)
    event = ctx.config.event_completed
    ctx.webhooks.send(event, render.webhook_envelope(store, contact, event, response))
    return {"message": OK, "uuid": response.uuid}


def tag_response(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """POST /responses/tags: idempotent; fires the tag webhook when a tag is new."""
    response_uuid = query.text_param(params, "uuid", required=True)
    names = _tags(params, required=True)
    response = ctx.store.responses_by_uuid.get(response_uuid or "")
    if response is None:
        raise ApiError(404, "Response not found")
    added = ctx.store.tag_response(response, names)
    if added:
        event = ctx.config.event_tag
        envelope = render.webhook_envelope(ctx.store, response.contact, event, response)
        ctx.webhooks.send(event, envelope)
    return {"message": OK}


# ------------------------------------------------------------------------------- segments
def list_segments(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GET /segments, ordered by name."""
    req = ctx.pager.request(params, ctx.config.page_length_default, "/segments")
    segments = list(ctx.store.segments.values())
    by_key = {(s.name.casefold(), s.uuid): s for s in segments}
    chunk, pagination = ctx.pager.page(sorted(by_key), req)
    items = [
        {"uuid": by_key[k].uuid, "name": by_key[k].name, "is_manual": by_key[k].is_manual}
        for k in chunk
    ]
    return {"items": items, "pagination": pagination}


def add_to_segment(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """POST /sync-segment: unknown users are created; fires the segment webhook on entry."""
    segment = _segment(ctx, params)
    remote_id, email = _user(params)
    contact = ctx.store.find_or_create_contact(remote_id, email)
    if ctx.store.sync_segment(segment, contact, add=True):
        event = ctx.config.event_segment
        ctx.webhooks.send(event, render.webhook_envelope(ctx.store, contact, event))
    return {"message": OK, "contact_uuid": contact.uuid, "segment_uuid": segment.uuid}


def remove_from_segment(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DELETE /sync-segment."""
    segment = _segment(ctx, params)
    remote_id, email = _user(params)
    contact = ctx.store.find_contact(remote_id=remote_id, email=email)
    if contact is None:
        raise ApiError(404, CONTACT_NOT_FOUND)
    ctx.store.sync_segment(segment, contact, add=False)
    return {"message": OK, "contact_uuid": contact.uuid, "segment_uuid": segment.uuid}


# ------------------------------------------------------------------------------- forms
def _form_in_list(form: Form, which: str) -> bool:
    archived = form.archived_at is not None
    if which == "all_with_archived":
        return True
    if which == "archived":
        return archived
    if archived:
        return False
    if which == "published":
        return form.published_at is not None
    if which == "drafts":
        return form.published_at is None
    return True


def _form_stats(store: Store) -> dict[str, list[Any]]:
    stats: dict[str, list[Any]] = {}
    for r in store.responses.values():
        entry = stats.setdefault(r.form.uuid, [0, 0, None, None])
        if r.completed_at is not None:
            entry[0] += 1
        entry[1] += 1
        entry[2] = r.first_shown_at if entry[2] is None else min(entry[2], r.first_shown_at)
        entry[3] = r.last_shown_at if entry[3] is None else max(entry[3], r.last_shown_at)
    return stats


def list_forms(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GET /forms, ordered by name."""
    which = query.text_param(params, "list") or "all"
    if which not in FORM_LISTS:
        raise ApiError(400, "The selected list is invalid.")
    info = query.bool_param(params, "include_info", default=False)
    config = query.bool_param(params, "include_config", default=False)
    req = ctx.pager.request(params, ctx.config.page_length_default, "/forms")
    forms = {
        (f.name.casefold(), f.seq): f for f in ctx.store.forms.values() if _form_in_list(f, which)
    }
    chunk, pagination = ctx.pager.page(sorted(forms), req)
    stats = _form_stats(ctx.store) if info else {}
    items = []
    for key in chunk:
        form = forms[key]
        responses, views, first, last = stats.get(form.uuid, [0, 0, None, None])
        items.append(
            render.form(form, info=info, config=config, stats=(responses, views, first, last))
        )
    return {"items": items, "pagination": pagination}


def publish_form(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """POST /forms/publish (``published`` 1/0/true/false, default publish)."""
    form = _form(ctx, params)
    published = query.bool_param(params, "published", default=True)
    if published and form.archived_at is not None:
        raise ApiError(400, "Archived forms can not be published.")
    ctx.store.publish_form(form, published=published)
    return {"message": OK}


def duplicate_form(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """POST /forms/duplicate: the copy is a draft."""
    form = _form(ctx, params)
    name = query.text_param(params, "name", required=True)
    copy = ctx.store.duplicate_form(form, name or "")
    return {"message": OK, "source_form_uuid": form.uuid, "new_form_uuid": copy.uuid}


def archive_form(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DELETE /forms archives rather than deletes."""
    ctx.store.archive_form(_form(ctx, params))
    return {"message": OK}


def form_history(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GET /forms/history, newest first."""
    form = _form(ctx, params)
    req = ctx.pager.request(params, ctx.config.page_length_default, "/forms/history")
    entries = {(-e.created_at, -e.seq): e for e in form.history}
    chunk, pagination = ctx.pager.page(sorted(entries), req)
    return {"items": [render.history(entries[k]) for k in chunk], "pagination": pagination}


# ------------------------------------------------------------------------------- reporting
def reporting(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GET /reporting."""
    return report(ctx.store, params, inclusive_end=ctx.config.reporting_end_inclusive)


def account(ctx: Context, _params: dict[str, Any]) -> dict[str, Any]:
    """GET /account: usage counters derived from the store."""
    store = ctx.store
    mtu = len(store.contacts)
    mpv = sum(r.show_counter or 1 for r in store.responses.values())
    msr = sum(1 for r in store.responses.values() if r.completed_at is not None)
    mte = len(store.events)
    return {
        "subscription": {
            "plan": "Growth",
            "mtu_count": mtu,
            "mtu_limit": 5000,
            "mpv_count": mpv,
            "mpv_limit": 1_000_000,
            "msr_count": msr,
            "msr_limit": 1000,
            "mte_count": mte,
        },
        "environments": [
            {
                "uuid": store.environment_uuid,
                "name": store.project_name,
                "mtu": mtu,
                "mte": mte,
                "mpv": mpv,
                "msr": msr,
            }
        ],
    }


ROUTES: dict[tuple[str, str], Callable[[Context, dict[str, Any]], dict[str, Any]]] = {
    ("GET", "/v1/"): key_check,
    ("GET", "/v1/contacts"): list_contacts,
    ("GET", "/v1/contact"): get_contact,
    ("DELETE", "/v1/contact"): delete_contact,
    ("POST", "/v1/identify-user"): identify_user,
    ("POST", "/v1/track-event"): track_event,
    ("POST", "/v1/track"): track_event,
    ("GET", "/v1/responses"): list_responses,
    ("POST", "/v1/responses"): store_response,
    ("POST", "/v1/responses/tags"): tag_response,
    ("GET", "/v1/segments"): list_segments,
    ("POST", "/v1/sync-segment"): add_to_segment,
    ("DELETE", "/v1/sync-segment"): remove_from_segment,
    ("GET", "/v1/forms"): list_forms,
    ("POST", "/v1/forms/publish"): publish_form,
    ("POST", "/v1/forms/duplicate"): duplicate_form,
    ("DELETE", "/v1/forms"): archive_form,
    ("GET", "/v1/forms/history"): form_history,
    ("GET", "/v1/reporting"): reporting,
    ("GET", "/v1/account"): account,
}
