"""Refiner timestamps in, ISO 8601 UTC out.

The API shows two formats (refiner-api.md §6.12): ``2020-09-02 21:53:33`` (naive, UTC) and
``2020-09-02T20:44:24.000000Z``. Records always carry the second, fixed-width form, so values
compare correctly as strings and bookmarks look the same whatever the API sent. The common
forms are handled with string slicing because this runs for every timestamp of every record.
"""

from __future__ import annotations

from datetime import datetime, timezone

_ISO_LEN = 27  # 2020-09-02T20:44:24.000000Z
_PLAIN_LEN = 19  # 2020-09-02 21:53:33
_DATE_LEN = 10  # 2020-09-02


def normalize(value: str | None) -> str | None:
    """Return ``value`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC), or None when empty."""
    if not value:
        return None
    size = len(value)
    if size == _ISO_LEN and value[10] == "T" and value[26] == "Z":
        return value
    if size == _PLAIN_LEN and value[10] in " T":
        return f"{value[:10]}T{value[11:]}.000000Z"
    return format_utc(parse(value))


def parse(value: str) -> datetime:
    """Parse any ISO 8601 date or datetime; naive values are UTC (Refiner's clock)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if len(text) == _DATE_LEN:
        text += "T00:00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def format_utc(moment: datetime) -> str:
    """Format an aware (or naive UTC) datetime as the records' fixed-width form."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_param(moment: datetime) -> str:
    """Format a datetime for ``date_range_start``/``date_range_end`` (whole seconds, UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
