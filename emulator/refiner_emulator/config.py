"""Emulator options: set from the CLI, some changeable at runtime via POST /_emulator/config."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

RUNTIME_OPTIONS = frozenset(
    {
        "latency_ms",
        "error_rate",
        "rate_limit",
        "per_key_per_minute",
        "per_user_per_minute",
        "timestamp_format",
        "unknown_key_status",
        "track_alias",
        "page_length_default",
        "webhook_urls",
        "webhook_secret",
        "event_completed",
        "event_segment",
        "event_tag",
        "empty_pages",
        "no_last_page",
        "offset_cursors",
        "end_listings_early",
        "no_items_count",
        "reporting_end_inclusive",
        "key_check_without_project",
    }
)


@dataclass(slots=True)
class Config:
    """Every knob; the defaults are the documented behaviour of the real API."""

    api_keys: list[str] = field(default_factory=lambda: ["demo-key"])
    #: Keys of a second Refiner project, with data of its own (``api_keys`` are one project's
    #: keys, e.g. an old and a rotated one).
    other_project_keys: list[str] = field(default_factory=list)
    seed: int = 1
    contacts: int = 200
    responses: int = 500
    forms: int = 6
    segments: int = 5
    recent: bool = False  # seeded data ends an hour ago instead of on the seed's day in 2026
    latency_ms: float = 0.0
    error_rate: float = 0.0
    rate_limit: bool = False
    per_key_per_minute: int = 4000
    per_user_per_minute: int = 100
    timestamp_format: str = "iso"
    unknown_key_status: int = 404
    track_alias: bool = True
    page_length_default: int = 100
    webhook_urls: list[str] = field(default_factory=list)
    webhook_secret: str | None = None
    event_completed: str = "Completed Survey"
    event_segment: str = "User Entered Segment"
    event_tag: str = "Tag Added"
    # Untidy variants the documentation leaves open (refiner-api.md §2, §6); all off by default.
    empty_pages: bool = False  # every page is followed by an empty page that carries a cursor
    no_last_page: bool = False  # `pagination` has no `last_page`
    offset_cursors: bool = False  # cursors hold an offset, so inserts shift the rows after them
    # A listing ends (no cursor, last_page = this page) after this many items while
    # `items_count` still says how many there are; 0 serves every item.
    end_listings_early: int = 0
    no_items_count: bool = False  # `pagination` has no `items_count`
    reporting_end_inclusive: bool = False  # /reporting includes `date_range_end`
    # The key check (GET /v1/) is documented by one source (§1.1): a variant answers without
    # `project_uuid` (only `message`).
    key_check_without_project: bool = False

    def validate(self) -> None:
        """Raise ValueError for values the emulator cannot honour."""
        checks = [
            (self.latency_ms >= 0, "latency_ms must be >= 0"),
            (0.0 <= self.error_rate <= 1.0, "error_rate must be between 0 and 1"),
            (self.per_key_per_minute >= 1, "per_key_per_minute must be >= 1"),
            (self.per_user_per_minute >= 1, "per_user_per_minute must be >= 1"),
            (self.timestamp_format in ("iso", "plain"), "timestamp_format must be iso or plain"),
            (self.unknown_key_status in (404, 400), "unknown_key_status must be 404 or 400"),
            (self.page_length_default in (100, 50), "page_length_default must be 100 or 50"),
            (bool(self.api_keys), "at least one api key is required"),
            (self.end_listings_early >= 0, "end_listings_early must be >= 0"),
            (
                not set(self.api_keys) & set(self.other_project_keys),
                "a key belongs to one project: api_keys and other_project_keys overlap",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def public(self) -> dict[str, Any]:
        """The effective runtime options (API keys and the secret are never echoed)."""
        data = asdict(self)
        shown = {k: v for k, v in data.items() if k in RUNTIME_OPTIONS}
        shown["webhook_secret"] = "***" if self.webhook_secret else None
        return shown

    def updated(self, changes: dict[str, Any]) -> Config:
        """A copy with ``changes`` applied; ValueError for unknown or ill-typed options."""
        unknown = set(changes) - RUNTIME_OPTIONS
        if unknown:
            msg = f"unknown option(s): {', '.join(sorted(unknown))}"
            raise ValueError(msg)
        types = {f.name: f.type for f in fields(self)}
        coerced: dict[str, Any] = {}
        for name, value in changes.items():
            coerced[name] = _coerce(name, str(types[name]), value)
        new = replace(self, **coerced)
        new.validate()
        return new


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


# Accepted JSON values per declared option type.
_TYPE_CHECKS: dict[str, Callable[[object], bool]] = {
    "bool": lambda v: isinstance(v, bool),
    "int": _is_int,
    "float": lambda v: _is_int(v) or isinstance(v, float),
    "str": lambda v: isinstance(v, str),
    "str | None": lambda v: v is None or isinstance(v, str),
    "list[str]": lambda v: isinstance(v, str) or _is_str_list(v),
}


def _coerce(name: str, type_name: str, value: Any) -> Any:  # noqa: ANN401 - any option value
    """Check a JSON value against the option's declared type and normalise it."""
    if not _TYPE_CHECKS[type_name](value):
        msg = f"invalid value for {name}: {value!r}"
        raise ValueError(msg)
    if type_name == "float":
        return float(value)
    if type_name == "list[str]":
        return [value] if isinstance(value, str) else list(value)
    if type_name == "str | None":
        return value or None
    return value
