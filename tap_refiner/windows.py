"""Ascending date windows for endpoints that filter by date but list newest first."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import NamedTuple


class Window(NamedTuple):
    """``[start, end)``: inclusive start, exclusive end, like ``date_range_start/end``.

    ``form_uuids`` makes it a catch-up window: only those surveys (added to the filter since
    the bookmark), and the bookmark does not move when it is done.
    """

    start: datetime
    end: datetime
    form_uuids: tuple[str, ...] | None = None

    def __str__(self) -> str:
        """``2026-03-01 .. 2026-03-31`` (UTC; times only where a bound is not midnight)."""
        return f"{_moment_text(self.start)} .. {_moment_text(self.end)}"


def _moment_text(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    if moment.time() == time(0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def date_windows(start: datetime, end: datetime, days: float) -> list[Window]:
    """Split ``[start, end)`` into consecutive windows of at most ``days`` days, oldest first."""
    if days <= 0:
        msg = f"window length must be positive, got {days} days"
        raise ValueError(msg)
    step = timedelta(days=days)
    windows: list[Window] = []
    cursor = start
    while cursor < end:
        upper = min(cursor + step, end)
        windows.append(Window(cursor, upper))
        cursor = upper
    return windows
