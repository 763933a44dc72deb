"""Timestamps: the store keeps integer epoch seconds; the API shows two textual formats.

Integers keep seeding and sorting cheap; text is produced only when an object is rendered.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from functools import lru_cache

_DATE_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def now() -> int:
    """Current time in whole seconds (Refiner shows ``.000000`` fractions)."""
    return int(time.time())


@lru_cache(maxsize=4096)
def _day_prefix(day: int, sep: str) -> str:
    t = time.gmtime(day * 86400)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}{sep}"


@lru_cache(maxsize=1 << 16)
def _iso_int(ts: int) -> str:
    day, rest = divmod(ts, 86400)
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    return f"{_day_prefix(day, 'T')}{hour:02d}:{minute:02d}:{second:02d}.000000Z"


def iso(ts: float | None) -> str | None:
    """``2020-09-02T20:44:24.000000Z`` as in contacts and webhook bodies.

    Rendering a page formats thousands of timestamps, hence the arithmetic and the caches.
    """
    if ts is None:
        return None
    return _iso_int(int(ts))


def plain(ts: float | None) -> str | None:
    """``2020-09-02 21:53:33`` as in the docs' response sample."""
    if ts is None:
        return None
    day, rest = divmod(int(ts), 86400)
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    return f"{_day_prefix(day, ' ')}{hour:02d}:{minute:02d}:{second:02d}"


def parse_datetime(value: str) -> float:
    """Parse ISO 8601 dates/datetimes (``2026-01-01``, ``2026-01-01 10:00:00``, ``…T…Z``).

    Naive values are taken as UTC. Raises ValueError for anything else.
    """
    match = _DATE_RE.match(value.strip())
    if not match:
        msg = f"not a date: {value!r}"
        raise ValueError(msg)
    year, month, day, hour, minute, second, frac, zone = match.groups()
    tz = timezone.utc
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
        tz = timezone(timedelta(seconds=offset))
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        tzinfo=tz,
    )
    fraction = float(f"0.{frac}") if frac else 0.0
    return moment.timestamp() + fraction


def start_of_day(ts: float) -> int:
    """Midnight UTC of the day holding ``ts``."""
    return int(ts) - int(ts) % 86400
