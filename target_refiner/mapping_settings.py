"""The ``mappings`` and ``default_action`` settings: their JSON schema beside their parser.

JSON schema (checked by the SDK first) says which keys and actions exist; the parser checks what
a schema cannot (a track needs exactly one event source, reserved trait names, ...) and turns
each stream's entry into a :class:`StreamMapping` once per run. Errors name the exact setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th

from refiner_http.settings import setting

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

IDENTIFY = "identify"
TRACK = "track"
ADD_TO_SEGMENT = "add_to_segment"
REMOVE_FROM_SEGMENT = "remove_from_segment"
DELETE_CONTACT = "delete_contact"
MIRROR_SEGMENT = "mirror_segment"
#: Actions that turn each row into one call (``mapping.CALL_BUILDERS``).
ACTIONS = (IDENTIFY, TRACK, ADD_TO_SEGMENT, REMOVE_FROM_SEGMENT, DELETE_CONTACT)
#: Every action: mirror_segment reads a stream's rows as one list (``mirror.py``).
ALL_ACTIONS = (*ACTIONS, MIRROR_SEGMENT)
#: Actions whose rows name a segment (``segment_uuid`` or ``segment_uuid_field``).
SEGMENT_ACTIONS = frozenset({ADD_TO_SEGMENT, REMOVE_FROM_SEGMENT, MIRROR_SEGMENT})
NO_ACTION = "none"
#: What ``default_action`` allows: track and segment actions need a per-stream mapping.
DEFAULT_ACTIONS = (IDENTIFY, DELETE_CONTACT, NO_ACTION)

#: Names Refiner reads as request parameters, so never sent as traits.
RESERVED_TRAITS = frozenset({"id", "email", "account", "api_key", "userId"})
DEFAULT_USER_ID_FIELDS = ("id", "user_id")
DEFAULT_EMAIL_FIELDS = ("email",)

ACCOUNT_SCHEMA = th.ObjectType(
    th.Property("id", th.StringType, required=True),
    th.Property("name", th.StringType),
    th.Property("attributes", th.ArrayType(th.StringType)),
)
MAPPING_SCHEMA = th.ObjectType(
    th.Property(
        "action",
        th.StringType(allowed_values=list(ALL_ACTIONS)),
        default=IDENTIFY,
        description="What each row does in Refiner.",
    ),
    th.Property(
        "user_id",
        th.StringType,
        description="Field holding your user id (sent as `id`). One of user_id/email required.",
    ),
    th.Property("email", th.StringType, description="Field holding the user's email."),
    th.Property("event", th.StringType, description="track: field holding the event name."),
    th.Property("event_name", th.StringType, description="track: constant event name."),
    th.Property(
        "attributes",
        th.ArrayType(th.StringType),
        description="identify: fields to send as traits (default: every other field).",
    ),
    th.Property("exclude", th.ArrayType(th.StringType), description="identify: fields never sent."),
    th.Property(
        "account",
        ACCOUNT_SCHEMA,
        description=(
            "identify: field names for the nested `account` object: `id` (required), `name`, "
            "`attributes` (account traits)."
        ),
    ),
    th.Property("segment_uuid", th.StringType, description="Segment actions: constant uuid."),
    th.Property(
        "segment_uuid_field", th.StringType, description="Segment actions: field holding the uuid."
    ),
    th.Property(
        "remove_unlisted",
        th.BooleanType,
        description=(
            "mirror_segment: remove members the rows do not list, also those added by hand "
            "in Refiner (default true; false: only add)."
        ),
    ),
    th.Property(
        "incremental",
        th.BooleanType,
        description=(
            "mirror_segment: say the stream's input is incremental (only changed rows); such "
            "a stream cannot be mirrored, so `true` is refused before any call."
        ),
    ),
    additional_properties=False,
)
# No defaults for the mirror_segment keys: the SDK would write them into every mapping.
MAPPING_KEYS = frozenset(MAPPING_SCHEMA.to_dict()["properties"])
ACCOUNT_KEYS = frozenset(ACCOUNT_SCHEMA.to_dict()["properties"])

MAPPINGS = th.Property(
    "mappings",
    th.ObjectType(additional_properties=MAPPING_SCHEMA),
    description=(
        "Per-stream mapping, keyed by stream name: `action` (identify, track, "
        "add_to_segment, remove_from_segment, delete_contact, mirror_segment), `user_id` "
        "and/or `email` (field names; each row needs one value), `event` or `event_name` "
        "(track), `attributes`/`exclude` (identify traits; default every other field), "
        "`account` ({id, name, attributes} field names), `segment_uuid` or "
        "`segment_uuid_field`, `remove_unlisted` (mirror_segment: the stream's rows are the "
        "segment's complete member list). Nested objects become `parent_child` traits; "
        "arrays are rejected."
    ),
)
DEFAULT_ACTION = th.Property(
    "default_action",
    th.StringType(allowed_values=list(DEFAULT_ACTIONS)),
    default=IDENTIFY,
    description=(
        "Action for streams without a mapping (user id from `id` or `user_id`, email "
        "from `email`, other fields as traits). `none` rejects their rows."
    ),
)


class SettingsError(ValueError):
    """A setting is invalid; the message names the setting and what to change."""


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
    #: mirror_segment: remove members the rows do not list.
    remove_unlisted: bool = True

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
    unknown = set(raw) - ACCOUNT_KEYS
    if unknown:
        msg = f"Setting `{setting}.account` has unknown keys {sorted(unknown)}."
        raise SettingsError(msg)
    return AccountMapping(
        id=raw["id"],
        name=_optional_str(raw, "name", f"{setting}.account"),
        attributes=_names(raw.get("attributes"), f"{setting}.account.attributes"),
    )


def _action_of(raw: Any, setting: str) -> str:  # noqa: ANN401
    """The entry's action, after checking it is an object of known keys."""
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
    if action not in ALL_ACTIONS:
        msg = f"Setting `{setting}.action` must be one of {list(ALL_ACTIONS)}, got {action!r}."
        raise SettingsError(msg)
    return str(action)


def _one_of(
    raw: dict[str, Any], keys: tuple[str, str], setting: str, *, needed_by: str | None, names: str
) -> tuple[str | None, str | None]:
    """Two alternative keys; for the action ``needed_by``, exactly one of them must be set."""
    first, second = (_optional_str(raw, key, setting) for key in keys)
    if needed_by is not None and bool(first) == bool(second):
        msg = f"Setting `{setting}` ({needed_by}) needs exactly one of {names}."
        raise SettingsError(msg)
    return first, second


def _attributes_of(raw: dict[str, Any], setting: str) -> tuple[str, ...] | None:
    attributes = raw.get("attributes")
    attrs = None if attributes is None else _names(attributes, f"{setting}.attributes")
    reserved = sorted(set(attrs or ()) & RESERVED_TRAITS)
    if reserved:
        msg = (
            f"Setting `{setting}.attributes` lists reserved names {reserved}; "
            "Refiner reads them as parameters, not traits."
        )
        raise SettingsError(msg)
    return attrs


def parse_stream_mapping(stream: str, raw: Any) -> StreamMapping:  # noqa: ANN401
    """Validate one ``mappings.<stream>`` object; errors name the exact setting."""
    setting = f"mappings.{stream}"
    action = _action_of(raw, setting)
    user_id = _names(raw.get("user_id"), f"{setting}.user_id")
    email = _names(raw.get("email"), f"{setting}.email")
    if not user_id and not email:
        msg = f"Setting `{setting}` needs `user_id` and/or `email` (the field names to read)."
        raise SettingsError(msg)
    event, event_name = _one_of(
        raw,
        ("event", "event_name"),
        setting,
        needed_by=action if action == TRACK else None,
        names="`event` (field) or `event_name`",
    )
    segment_uuid, segment_uuid_field = _one_of(
        raw,
        ("segment_uuid", "segment_uuid_field"),
        setting,
        needed_by=action if action in SEGMENT_ACTIONS else None,
        names="`segment_uuid` or `segment_uuid_field`",
    )
    return StreamMapping(
        action=action,
        user_id=user_id,
        email=email,
        event=event,
        event_name=event_name,
        attributes=_attributes_of(raw, setting),
        exclude=frozenset(_names(raw.get("exclude"), f"{setting}.exclude")),
        account=_parse_account(raw.get("account"), setting),
        segment_uuid=segment_uuid,
        segment_uuid_field=segment_uuid_field,
        remove_unlisted=_mirror_flags(raw, action, setting),
    )


def _flag(raw: dict[str, Any], key: str, setting: str, *, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        msg = f"Setting `{setting}.{key}` must be true or false, got {value!r}."
        raise SettingsError(msg)
    return value


def _mirror_flags(raw: dict[str, Any], action: str, setting: str) -> bool:
    """``remove_unlisted``, after refusing a mirror of an input said to be incremental.

    Both keys belong to mirror_segment alone: elsewhere they would be silently meaningless.
    """
    if action != MIRROR_SEGMENT:
        extra = sorted({"remove_unlisted", "incremental"} & set(raw))
        if extra:
            msg = f"Setting `{setting}` has {extra}, which only `action: mirror_segment` uses."
            raise SettingsError(msg)
        return True
    if _flag(raw, "incremental", setting, default=False):
        msg = (
            f"Setting `{setting}` (mirror_segment) says the input is incremental: a mirror "
            "needs the complete member list in every run, or it would remove everyone not "
            "re-sent. Read the stream as a full table, or use `action: add_to_segment`."
        )
        raise SettingsError(msg)
    return _flag(raw, "remove_unlisted", setting, default=True)


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
            f"Setting `default_action` must be one of {list(DEFAULT_ACTIONS)} "
            f"(track and segment actions need a per-stream mapping), got {default_action!r}."
        )
        raise SettingsError(msg)
    return StreamMapping(
        action=default_action, user_id=DEFAULT_USER_ID_FIELDS, email=DEFAULT_EMAIL_FIELDS
    )


def _problems(parse: Callable[[Any], object], value: Any) -> list[str]:  # noqa: ANN401
    try:
        parse(value)
    except SettingsError as exc:
        return [str(exc)]
    return []


def mapping_errors(config: Mapping[str, Any]) -> list[str]:
    """The first problem in ``mappings`` and the one in ``default_action``, if any."""
    return [
        *_problems(parse_mappings, config.get(MAPPINGS.name)),
        *_problems(default_mapping, setting(config, DEFAULT_ACTION)),
    ]
