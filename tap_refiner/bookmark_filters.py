"""A bookmark records the filters it was made under, so a changed filter re-reads what it adds.

Why: a bookmark says "everything up to here was read" only for the filters of the run that
wrote it. A survey added to ``form_uuids``, a report type added to ``report_types`` or
``responses_include`` widened after a run would otherwise resume from the bookmark and never
read the past of what the new filter lets in: a green run that skipped rows.

How: a stream names the settings its bookmark depends on (``bookmark_filters``). The bookmark
carries their values under ``filters``, written only together with a bookmark that covers them
(a ``/responses`` window read under them, ``reports`` read in full). The next run compares
(:class:`FilterChanges`): the stream reads what the new values add from the start, with a
WARNING naming the setting, and then records the new values; what they remove needs nothing.
Unset list filters are recorded as ``None`` (everything).

A bookmark written before filters were recorded adopts the current ones, with an INFO line: the
old version had no way to record them, and re-reading a whole account on every upgrade is
expensive (ARCHITECTURE.md, "Decisions").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterable, Mapping

#: The key of a bookmark's recorded filters.
FILTERS = "filters"


def filter_values(config: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The current values of the filter settings, as recorded: lists sorted, empty = None."""
    values: dict[str, Any] = {}
    for name in names:
        value = config.get(name)
        if isinstance(value, list):
            value = sorted({str(v) for v in value}) or None
        values[name] = value
    return values


class FilterChanges:
    """How the current filters differ from those a bookmark was made under."""

    def __init__(self, recorded: Mapping[str, Any], current: Mapping[str, Any]) -> None:
        """``recorded``: the bookmark's filters (a setting it lacks counts as unchanged)."""
        self.recorded = {name: recorded.get(name, value) for name, value in current.items()}
        self.current = dict(current)

    def changed(self, name: str) -> bool:
        """Whether setting ``name`` differs from the bookmark's."""
        return bool(self.recorded[name] != self.current[name])

    def added(self, name: str, everything: Callable[[], Iterable[str]]) -> list[str]:
        """What list setting ``name`` lets in that the bookmark's did not (None = everything)."""
        old, new = self.recorded[name], self.current[name]
        if old is None or old == new:
            return []
        return sorted(set(everything() if new is None else new) - set(old))


def filter_changes(
    state: Mapping[str, Any], current: Mapping[str, Any], *, stream: str, log: logging.Logger
) -> FilterChanges:
    """The changes since ``state``'s bookmark (none without one, or for one without filters)."""
    recorded = state.get(FILTERS)
    if isinstance(recorded, dict):
        return FilterChanges(recorded, current)
    if state.get("replication_key_value") is not None:
        log.info(
            "The bookmark of `%s` does not say which filters it was made under (written by an "
            "earlier version); assuming the current ones, %s, recorded from now on",
            stream,
            ", ".join(f"{name}={value!r}" for name, value in current.items()),
        )
    return FilterChanges(current, current)


def record_filters(state: dict[str, Any], current: Mapping[str, Any]) -> None:
    """Say that ``state``'s bookmark covers ``current`` filters."""
    state[FILTERS] = dict(current)
