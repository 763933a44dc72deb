"""Row -> Refiner API call, as pure functions (no I/O, no clock), so every rule is unit-testable.

A stream's mapping (``mapping_settings.py``) is resolved once per sink into a :class:`RowMapper`;
:meth:`RowMapper.map` turns each row into an :class:`ApiCall` or a :class:`Rejection` that
carries the reason for the dead-letter file. Each action has its own small builder
(:data:`CALL_BUILDERS`); ledger keys come from ``ledger/keys.py``, trait values from ``values.py``.

Trait names that Refiner reads as request parameters (``id``, ``email``, ``account``, ``api_key``,
``userId``) are never sent as traits: with the default "all other fields" they are left out, and
listing one in ``attributes`` is a settings error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from target_refiner.ledger.keys import (
    DELETED,
    MEMBER,
    NOT_MEMBER,
    SENT,
    LedgerKey,
    deleted_key,
    identifiers_of,
    identify_key,
    segment_key,
    track_key,
)
from target_refiner.mapping_settings import (
    ADD_TO_SEGMENT,
    DELETE_CONTACT,
    IDENTIFY,
    MIRROR_SEGMENT,
    REMOVE_FROM_SEGMENT,
    RESERVED_TRAITS,
    TRACK,
    AccountMapping,
    StreamMapping,
)
from target_refiner.values import RowError, convert_value, flatten

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class ApiCall:
    """One Refiner request, plus what the ledger needs to skip it next time."""

    action: str
    method: str
    path: str
    user_key: str
    params: dict[str, Any] | None = None
    #: Every identifier the row names the person by (``id:…`` first, then ``email:…``).
    identifiers: tuple[str, ...] = ()
    json_body: dict[str, Any] | None = None
    ledger_key: LedgerKey | None = None
    payload_hash: str = ""
    #: False when the caller has just read Refiner's truth (mirror_segment): the call is sent
    #: even if the ledger remembers it done; its acknowledgement still updates the ledger.
    trust_ledger: bool = True
    #: Told what became of the call ("sent", "skipped", "rejected"): per-segment mirror counts.
    tally: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The call as written to the dry-run file (no credentials: they are never in a call)."""
        out: dict[str, Any] = {"action": self.action, "method": self.method, "path": self.path}
        if self.params is not None:
            out["params"] = self.params
        if self.json_body is not None:
            out["json"] = self.json_body
        return out


@dataclass(frozen=True)
class Rejection:
    """A row that cannot be sent, and why (goes to the dead-letter file)."""

    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def traits_of(record: dict[str, Any], mapping: StreamMapping, *, truncate: bool) -> dict[str, Any]:
    """The identify traits: ``attributes`` (or every other field) minus ``exclude``."""
    if mapping.attributes is not None:
        names = [n for n in mapping.attributes if n in record and n not in mapping.exclude]
    else:
        skip = mapping.identity_fields() | mapping.exclude | RESERVED_TRAITS
        names = [n for n in record if n not in skip and not n.startswith("_sdc_")]
    traits: dict[str, Any] = {}
    for name in names:
        flatten(name, record[name], truncate=truncate, out=traits)
    return traits


def _first(record: dict[str, Any], names: tuple[str, ...]) -> tuple[str, Any]:
    for name in names:
        value = record.get(name)
        if value is not None and value != "":
            return name, value
    return "", None


def identity_of(record: dict[str, Any], mapping: StreamMapping) -> dict[str, Any]:
    """``{"id": ..., "email": ...}`` with whichever the row has; RowError if neither."""
    out: dict[str, Any] = {}
    id_field, user_id = _first(record, mapping.user_id)
    if user_id is not None:
        if isinstance(user_id, bool) or not isinstance(user_id, (str, int)):
            kind = type(user_id).__name__
            msg = f"user id field '{id_field}' must be a string or integer, got {kind}"
            raise RowError(msg)
        out["id"] = convert_value(id_field, user_id, truncate=False)
    email_field, email = _first(record, mapping.email)
    if email is not None:
        if not isinstance(email, str):
            msg = f"email field '{email_field}' must be a string, got {type(email).__name__}"
            raise RowError(msg)
        out["email"] = convert_value(email_field, email.strip(), truncate=False)
    if not out:
        fields = [*mapping.user_id, *mapping.email]
        msg = f"no user id and no email (looked in fields {fields})"
        raise RowError(msg)
    return out


def payload_hash(payload: dict[str, Any]) -> str:
    """A stable hash of a payload (sorted keys), for change detection."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def event_identity(
    record: dict[str, Any], key_properties: tuple[str, ...], body: dict[str, Any]
) -> str:
    """A track event's identity: the key properties' values (else the whole row) and the call.

    What the call sends is part of it, so two different events under a key that is not unique
    (``key_properties: ["user_id"]``) are two events; only an exact replay of a row (same key
    values, same event, same person) is skipped.
    """
    key: Any = [record.get(k) for k in key_properties] if key_properties else record
    return payload_hash({"key": key, "call": body})


def account_of(
    record: dict[str, Any], account: AccountMapping, *, truncate: bool
) -> dict[str, Any] | None:
    """The nested ``account`` object of identify (the user's group), or None when ungrouped."""
    account_id = record.get(account.id)
    if account_id is None or account_id == "":
        return None  # the user is not grouped into an account
    if isinstance(account_id, bool) or not isinstance(account_id, (str, int)):
        msg = f"account id field '{account.id}' must be a string or integer"
        raise RowError(msg)
    out: dict[str, Any] = {"id": convert_value(account.id, account_id, truncate=False)}
    if account.name and record.get(account.name) is not None:
        out["name"] = convert_value(account.name, record[account.name], truncate=truncate)
    for name in account.attributes:
        if name in record:
            flatten(name, record[name], truncate=truncate, out=out)
    return out


def _single_identifier(identity: dict[str, Any]) -> dict[str, Any]:
    """Segment and delete calls take exactly one identifier: the id, else the email."""
    return {"id": identity["id"]} if "id" in identity else {"email": identity["email"]}


def segment_of(record: dict[str, Any], mapping: StreamMapping) -> str:
    """The segment uuid a row names: the mapping's constant, else its field (RowError if bad)."""
    if mapping.segment_uuid:
        return mapping.segment_uuid
    name = mapping.segment_uuid_field or ""
    value = record.get(name)
    if not isinstance(value, str) or not value:
        msg = f"segment uuid field '{name}' is empty or not a string"
        raise RowError(msg)
    return value


def _event_of(record: dict[str, Any], mapping: StreamMapping, *, truncate: bool) -> str:
    if mapping.event_name:
        return mapping.event_name
    name = mapping.event or ""
    value = record.get(name)
    if not isinstance(value, str) or not value.strip():
        msg = f"event field '{name}' is empty or not a string"
        raise RowError(msg)
    return str(convert_value(name, value, truncate=truncate))


@dataclass(frozen=True)
class CallContext:
    """What a row's call depends on besides the row; fixed for a sink, so built once per stream."""

    mapping: StreamMapping
    stream: str
    key_properties: tuple[str, ...] = ()
    truncate: bool = False


@dataclass(frozen=True)
class Endpoint:
    """The Refiner endpoint an action calls; DELETE calls carry their data as query parameters."""

    action: str
    method: str
    path: str

    def call(
        self, ids: tuple[str, ...], data: dict[str, Any], ledger_key: LedgerKey, hashed: str
    ) -> ApiCall:
        """The call for one row: ``ids`` name the person (the first is the user key)."""
        query = self.method == "DELETE"
        return ApiCall(
            self.action,
            self.method,
            self.path,
            ids[0],
            params=data if query else None,
            identifiers=ids,
            json_body=None if query else data,
            ledger_key=ledger_key,
            payload_hash=hashed,
        )


IDENTIFY_USER = Endpoint(IDENTIFY, "POST", "/identify-user")
TRACK_EVENT = Endpoint(TRACK, "POST", "/track-event")
SEGMENT_ADD = Endpoint(ADD_TO_SEGMENT, "POST", "/sync-segment")
SEGMENT_REMOVE = Endpoint(REMOVE_FROM_SEGMENT, "DELETE", "/sync-segment")
CONTACT_DELETE = Endpoint(DELETE_CONTACT, "DELETE", "/contact")
MIRROR_ADD = Endpoint(MIRROR_SEGMENT, "POST", "/sync-segment")
MIRROR_REMOVE = Endpoint(MIRROR_SEGMENT, "DELETE", "/sync-segment")


def identify_call(record: dict[str, Any], ctx: CallContext) -> ApiCall:
    """Identity, traits, and the account when the row names one; remembered by payload hash."""
    identity = identity_of(record, ctx.mapping)
    ids = identifiers_of(identity)
    body = {**identity, **traits_of(record, ctx.mapping, truncate=ctx.truncate)}
    if ctx.mapping.account:
        account = account_of(record, ctx.mapping.account, truncate=ctx.truncate)
        if account is not None:
            body["account"] = account
    return IDENTIFY_USER.call(ids, body, identify_key(ids[0]), payload_hash(body))


def track_call(record: dict[str, Any], ctx: CallContext) -> ApiCall:
    """One event, remembered per event identity so that only exact replays are skipped."""
    identity = identity_of(record, ctx.mapping)
    ids = identifiers_of(identity)
    body = {
        **_single_identifier(identity),
        "event": _event_of(record, ctx.mapping, truncate=ctx.truncate),
    }
    key = track_key(event_identity(record, ctx.key_properties, body), ctx.stream)
    return TRACK_EVENT.call(ids, body, key, SENT)


def _segment_call(
    record: dict[str, Any], ctx: CallContext, endpoint: Endpoint, membership: str
) -> ApiCall:
    identity = identity_of(record, ctx.mapping)
    return membership_call(endpoint, identity, segment_of(record, ctx.mapping), membership)


def membership_call(
    endpoint: Endpoint, identity: dict[str, Any], segment: str, membership: str
) -> ApiCall:
    """Join or leave ``segment``: one identifier is sent (the id, else the email)."""
    ids = identifiers_of(identity)
    data = {"segment_uuid": segment, **_single_identifier(identity)}
    return endpoint.call(ids, data, segment_key(ids[0], segment), membership)


def mirror_call(
    identity: dict[str, Any], segment: str, *, add: bool, tally: Callable[[str], None]
) -> ApiCall:
    """A mirror_segment add or removal: sent whatever the ledger says (Refiner was just read)."""
    endpoint, membership = (MIRROR_ADD, MEMBER) if add else (MIRROR_REMOVE, NOT_MEMBER)
    call = membership_call(endpoint, identity, segment, membership)
    return dataclasses.replace(call, trust_ledger=False, tally=tally)


def add_to_segment_call(record: dict[str, Any], ctx: CallContext) -> ApiCall:
    """The contact joins the segment (remembered as a member)."""
    return _segment_call(record, ctx, SEGMENT_ADD, MEMBER)


def remove_from_segment_call(record: dict[str, Any], ctx: CallContext) -> ApiCall:
    """The contact leaves the segment (remembered as not a member)."""
    return _segment_call(record, ctx, SEGMENT_REMOVE, NOT_MEMBER)


def delete_contact_call(record: dict[str, Any], ctx: CallContext) -> ApiCall:
    """The contact is deleted, by the row's user id, else its email."""
    identity = identity_of(record, ctx.mapping)
    ids = identifiers_of(identity)
    return CONTACT_DELETE.call(ids, _single_identifier(identity), deleted_key(ids[0]), DELETED)


#: One builder per action; each raises RowError with the reason when the row cannot be sent.
CALL_BUILDERS: dict[str, Callable[[dict[str, Any], CallContext], ApiCall]] = {
    IDENTIFY: identify_call,
    TRACK: track_call,
    ADD_TO_SEGMENT: add_to_segment_call,
    REMOVE_FROM_SEGMENT: remove_from_segment_call,
    DELETE_CONTACT: delete_contact_call,
}


class RowMapper:
    """Maps one stream's rows; built once per sink, since its mapping and keys are fixed."""

    def __init__(
        self,
        mapping: StreamMapping | None,
        *,
        stream: str,
        key_properties: tuple[str, ...] = (),
        truncate: bool = False,
    ) -> None:
        """``mapping`` None (``default_action: none``): every row of the stream is rejected."""
        self.stream = stream
        self.context = (
            None if mapping is None else CallContext(mapping, stream, key_properties, truncate)
        )
        # mirror_segment rows make no call each (mirror.py diffs them): no builder.
        self._build = None if mapping is None else CALL_BUILDERS.get(mapping.action)

    def map(self, record: dict[str, Any]) -> ApiCall | Rejection:
        """Row -> ApiCall, or Rejection with the reason (never raises for bad rows)."""
        if self.context is None:
            return Rejection(
                f"stream '{self.stream}' has no entry in `mappings` and `default_action` is 'none'"
            )
        if self._build is None:
            return Rejection(f"action '{self.context.mapping.action}' makes no call per row")
        try:
            return self._build(record, self.context)
        except RowError as exc:
            return Rejection(str(exc))


def map_record(
    record: dict[str, Any],
    mapping: StreamMapping | None,
    *,
    stream: str,
    key_properties: tuple[str, ...] = (),
    truncate: bool = False,
) -> ApiCall | Rejection:
    """One row on its own (sinks keep a :class:`RowMapper` instead)."""
    mapper = RowMapper(mapping, stream=stream, key_properties=key_properties, truncate=truncate)
    return mapper.map(record)
