"""Row -> Refiner API call, as pure functions (no I/O, no clock), so every rule is unit-testable.

A stream's ``mappings`` entry (or ``default_action`` for streams without one) is parsed once into
a :class:`StreamMapping`; :func:`map_record` turns each row into an :class:`ApiCall` or a
:class:`Rejection` that carries the reason for the dead-letter file.

Value rules (what Refiner's traits accept: string, number, boolean, date):

- dates and datetimes become ISO 8601 strings; numbers stay numbers; booleans stay booleans;
  ``null`` stays ``null`` (it clears the trait);
- nested objects are flattened, keys joined with ``_``: ``{"address": {"city": "Oslo"}}`` becomes
  the trait ``address_city``;
- arrays are rejected (Refiner has no array traits and joining would silently change meaning);
  drop such fields with ``exclude`` or list the wanted ones in ``attributes``;
- strings longer than 255 characters are rejected, or cut to 255 with ``truncate_long_strings``.

Trait names that Refiner reads as request parameters (``id``, ``email``, ``account``, ``api_key``,
``userId``) are never sent as traits: with the default "all other fields" they are left out, and
listing one in ``attributes`` is a settings error.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

IDENTIFY = "identify"
TRACK = "track"
ADD_TO_SEGMENT = "add_to_segment"
REMOVE_FROM_SEGMENT = "remove_from_segment"
DELETE_CONTACT = "delete_contact"
ACTIONS = (IDENTIFY, TRACK, ADD_TO_SEGMENT, REMOVE_FROM_SEGMENT, DELETE_CONTACT)
NO_ACTION = "none"

MAX_STRING_CHARS = 255
RESERVED_TRAITS = frozenset({"id", "email", "account", "api_key", "userId"})
DEFAULT_USER_ID_FIELDS = ("id", "user_id")
DEFAULT_EMAIL_FIELDS = ("email",)
MAPPING_KEYS = frozenset(
    {
        "action",
        "user_id",
        "email",
        "event",
        "event_name",
        "attributes",
        "exclude",
        "account",
        "segment_uuid",
        "segment_uuid_field",
    }
)

# Ledger kinds: what "the last acknowledged payload" is remembered per.
LEDGER_IDENTIFY = "identify"  # per user key: hash of the identify payload
LEDGER_SEGMENT = "segment"  # per (segment, user key): hash of add/remove
LEDGER_DELETED = "deleted"  # per user key: the contact was deleted
LEDGER_TRACK = "track"  # per (stream, record key): the event was sent


class SettingsError(ValueError):
    """A setting is invalid; the message names the setting and what to change."""


class RowError(ValueError):
    """A row cannot become an API call; the message is the dead-letter reason."""


@dataclass(frozen=True)
class AccountMapping:
    """Field names for the nested ``account`` object of identify."""

    id: str
    name: str | None = None
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class StreamMapping:
    """One stream's parsed ``mappings`` entry (or the default for unmapped streams)."""

    action: str
    user_id: tuple[str, ...] = ()
    email: tuple[str, ...] = ()
    event: str | None = None
    event_name: str | None = None
    attributes: tuple[str, ...] | None = None
    exclude: frozenset[str] = frozenset()
    account: AccountMapping | None = None
    segment_uuid: str | None = None
    segment_uuid_field: str | None = None

    def identity_fields(self) -> frozenset[str]:
        """Fields that identify the user or account, hence never traits."""
        fields = set(self.user_id) | set(self.email)
        if self.account:
            fields |= {self.account.id, *self.account.attributes}
            if self.account.name:
                fields.add(self.account.name)
        for extra in (self.event, self.segment_uuid_field):
            if extra:
                fields.add(extra)
        return frozenset(fields)


@dataclass(frozen=True)
class LedgerKey:
    """Where the ledger remembers this call: ``(kind, user_key, scope)``."""

    kind: str
    user_key: str
    scope: str = ""


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


# -- settings -----------------------------------------------------------------------------


def _names(value: Any, setting: str) -> tuple[str, ...]:  # noqa: ANN401 - raw settings JSON
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    msg = f"Setting `{setting}` must be a field name or a list of field names, got {value!r}."
    raise SettingsError(msg)


def _optional_str(raw: dict[str, Any], key: str, setting: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        msg = f"Setting `{setting}.{key}` must be a non-empty string, got {value!r}."
        raise SettingsError(msg)
    return value


def _parse_account(raw: Any, setting: str) -> AccountMapping | None:  # noqa: ANN401
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        msg = f"Setting `{setting}.account` must be an object with at least an `id` field name."
        raise SettingsError(msg)
    unknown = set(raw) - {"id", "name", "attributes"}
    if unknown:
        msg = f"Setting `{setting}.account` has unknown keys {sorted(unknown)}."
        raise SettingsError(msg)
    return AccountMapping(
        id=raw["id"],
        name=_optional_str(raw, "name", f"{setting}.account"),
        attributes=_names(raw.get("attributes"), f"{setting}.account.attributes"),
    )


def parse_stream_mapping(stream: str, raw: Any) -> StreamMapping:  # noqa: ANN401
    """Validate one ``mappings.<stream>`` object; errors name the exact setting."""
    setting = f"mappings.{stream}"
    if not isinstance(raw, dict):
        msg = f"Setting `{setting}` must be an object, got {type(raw).__name__}."
        raise SettingsError(msg)
    unknown = set(raw) - MAPPING_KEYS
    if unknown:
        msg = (
            f"Setting `{setting}` has unknown keys {sorted(unknown)}; "
            f"known: {sorted(MAPPING_KEYS)}."
        )
        raise SettingsError(msg)
    action = raw.get("action", IDENTIFY)
    if action not in ACTIONS:
        msg = f"Setting `{setting}.action` must be one of {list(ACTIONS)}, got {action!r}."
        raise SettingsError(msg)
    user_id = _names(raw.get("user_id"), f"{setting}.user_id")
    email = _names(raw.get("email"), f"{setting}.email")
    if not user_id and not email:
        msg = f"Setting `{setting}` needs `user_id` and/or `email` (the field names to read)."
        raise SettingsError(msg)
    event = _optional_str(raw, "event", setting)
    event_name = _optional_str(raw, "event_name", setting)
    if action == TRACK and bool(event) == bool(event_name):
        msg = f"Setting `{setting}` (track) needs exactly one of `event` (field) or `event_name`."
        raise SettingsError(msg)
    segment_uuid = _optional_str(raw, "segment_uuid", setting)
    segment_uuid_field = _optional_str(raw, "segment_uuid_field", setting)
    if action in {ADD_TO_SEGMENT, REMOVE_FROM_SEGMENT} and bool(segment_uuid) == bool(
        segment_uuid_field
    ):
        msg = (
            f"Setting `{setting}` ({action}) needs exactly one of `segment_uuid` "
            "or `segment_uuid_field`."
        )
        raise SettingsError(msg)
    attributes = raw.get("attributes")
    attrs = None if attributes is None else _names(attributes, f"{setting}.attributes")
    reserved = sorted(set(attrs or ()) & RESERVED_TRAITS)
    if reserved:
        msg = (
            f"Setting `{setting}.attributes` lists reserved names {reserved}; "
            "Refiner reads them as parameters, not traits."
        )
        raise SettingsError(msg)
    return StreamMapping(
        action=action,
        user_id=user_id,
        email=email,
        event=event,
        event_name=event_name,
        attributes=attrs,
        exclude=frozenset(_names(raw.get("exclude"), f"{setting}.exclude")),
        account=_parse_account(raw.get("account"), setting),
        segment_uuid=segment_uuid,
        segment_uuid_field=segment_uuid_field,
    )


def parse_mappings(raw: Any) -> dict[str, StreamMapping]:  # noqa: ANN401 - settings JSON
    """Validate the whole ``mappings`` setting."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        msg = "Setting `mappings` must be an object keyed by stream name."
        raise SettingsError(msg)
    return {stream: parse_stream_mapping(stream, value) for stream, value in raw.items()}


def default_mapping(default_action: str) -> StreamMapping | None:
    """The mapping for streams without one: user id from ``id``/``user_id``, email from ``email``.

    ``default_action: none`` returns ``None``: rows of unmapped streams are rejected.
    """
    if default_action == NO_ACTION:
        return None
    if default_action not in {IDENTIFY, DELETE_CONTACT}:
        msg = (
            f"Setting `default_action` must be one of {[IDENTIFY, DELETE_CONTACT, NO_ACTION]} "
            f"(track and segment actions need a per-stream mapping), got {default_action!r}."
        )
        raise SettingsError(msg)
    return StreamMapping(
        action=default_action, user_id=DEFAULT_USER_ID_FIELDS, email=DEFAULT_EMAIL_FIELDS
    )


# -- values -------------------------------------------------------------------------------


def convert_value(name: str, value: Any, *, truncate: bool) -> Any:  # noqa: ANN401, C901, PLR0911, PLR0912
    """One scalar as Refiner accepts it; raises RowError with the reason otherwise."""
    kind = type(value)
    if kind is str and len(value) <= MAX_STRING_CHARS:
        return value  # the common cases first: a re-sync maps every row
    if value is None or kind is bool or kind is int:
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            msg = f"field '{name}' is {value}, which is not a JSON number"
            raise RowError(msg)
        return value
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            msg = f"field '{name}' is {value}, which is not a JSON number"
            raise RowError(msg)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            if truncate:
                return value[:MAX_STRING_CHARS]
            msg = (
                f"field '{name}' is {len(value)} characters; Refiner caps strings at "
                f"{MAX_STRING_CHARS} (turn on truncate_long_strings to cut them)"
            )
            raise RowError(msg)
        return value
    if isinstance(value, (list, tuple)):
        msg = (
            f"field '{name}' is an array; Refiner traits are scalars "
            "(leave it out with `exclude` or pick fields with `attributes`)"
        )
        raise RowError(msg)
    msg = f"field '{name}' has unsupported type {type(value).__name__}"
    raise RowError(msg)


def flatten(name: str, value: Any, *, truncate: bool, out: dict[str, Any]) -> None:  # noqa: ANN401
    """Put ``value`` into ``out``; nested objects become ``parent_child`` keys."""
    if isinstance(value, dict):
        for key, inner in value.items():
            flatten(f"{name}_{key}", inner, truncate=truncate, out=out)
        return
    out[name] = convert_value(name, value, truncate=truncate)


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


def identifiers_of(identity: dict[str, Any]) -> tuple[str, ...]:
    """``("id:42", "email:ann@x.io")``: how the row names the person, user id first."""
    names = []
    if "id" in identity:
        names.append(f"id:{identity['id']}")
    if "email" in identity:
        names.append(f"email:{identity['email']}")
    return tuple(names)


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


def _account_of(
    record: dict[str, Any], account: AccountMapping, *, truncate: bool
) -> dict[str, Any] | None:
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


def _segment_of(record: dict[str, Any], mapping: StreamMapping) -> str:
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


def build_call(
    record: dict[str, Any],
    mapping: StreamMapping,
    *,
    stream: str,
    key_properties: tuple[str, ...] = (),
    truncate: bool = False,
) -> ApiCall:
    """The API call for one row; raises RowError with the reason when impossible."""
    identity = identity_of(record, mapping)
    ids = identifiers_of(identity)
    user_key = ids[0]
    if mapping.action == IDENTIFY:
        body = {**identity, **traits_of(record, mapping, truncate=truncate)}
        if mapping.account:
            account = _account_of(record, mapping.account, truncate=truncate)
            if account is not None:
                body["account"] = account
        return ApiCall(
            IDENTIFY,
            "POST",
            "/identify-user",
            user_key,
            identifiers=ids,
            json_body=body,
            ledger_key=LedgerKey(LEDGER_IDENTIFY, user_key),
            payload_hash=payload_hash(body),
        )
    if mapping.action == TRACK:
        body = {
            **_single_identifier(identity),
            "event": _event_of(record, mapping, truncate=truncate),
        }
        return ApiCall(
            TRACK,
            "POST",
            "/track-event",
            user_key,
            identifiers=ids,
            json_body=body,
            ledger_key=LedgerKey(
                LEDGER_TRACK, event_identity(record, key_properties, body), stream
            ),
            payload_hash="sent",
        )
    if mapping.action in {ADD_TO_SEGMENT, REMOVE_FROM_SEGMENT}:
        segment = _segment_of(record, mapping)
        data = {"segment_uuid": segment, **_single_identifier(identity)}
        adding = mapping.action == ADD_TO_SEGMENT
        return ApiCall(
            mapping.action,
            "POST" if adding else "DELETE",
            "/sync-segment",
            user_key,
            identifiers=ids,
            json_body=data if adding else None,
            params=None if adding else data,
            ledger_key=LedgerKey(LEDGER_SEGMENT, user_key, segment),
            payload_hash="member" if adding else "not-member",
        )
    return ApiCall(
        DELETE_CONTACT,
        "DELETE",
        "/contact",
        user_key,
        identifiers=ids,
        params=_single_identifier(identity),
        ledger_key=LedgerKey(LEDGER_DELETED, user_key),
        payload_hash="deleted",
    )


def map_record(
    record: dict[str, Any],
    mapping: StreamMapping | None,
    *,
    stream: str,
    key_properties: tuple[str, ...] = (),
    truncate: bool = False,
) -> ApiCall | Rejection:
    """Row -> ApiCall, or Rejection with the reason (never raises for bad rows)."""
    if mapping is None:
        return Rejection(
            f"stream '{stream}' has no entry in `mappings` and `default_action` is 'none'"
        )
    try:
        return build_call(
            record, mapping, stream=stream, key_properties=key_properties, truncate=truncate
        )
    except RowError as exc:
        return Rejection(str(exc))
