"""Gap-free incremental sync of ``GET /responses`` in ascending, fully paged date windows.

Why: the API lists responses newest first, so within one request order a bookmark taken from
records would jump to the newest value on the first page and an interrupted run would skip
everything older that was not read yet. Instead the stream reads ``[bookmark - lookback, now)``
as consecutive windows (``date_range_start`` inclusive, ``date_range_end`` exclusive), pages
each window completely, and only then moves the bookmark to that window's end and emits STATE.

How this meets the SDK's state machinery:

* ``_increment_stream_state`` is a no-op here: the per-record bookmark (and its non-resumable
  ``progress_markers``) is meaningless for newest-first pages. The bookmark is written by
  ``_complete_window`` as ``replication_key``/``replication_key_value`` = window end.
* ``now`` is the SDK's replication signpost (the tap's start time), so the last window ends
  where the SDK would cap the bookmark anyway; responses arriving during the run are read by
  the next run. ``finalize_state_progress_markers`` finds no progress markers and keeps the
  window end as the final bookmark.
* STATE is emitted after each completed window when records are written as messages; in BATCH
  mode only the state dict moves and the SDK emits it after each batch, whose records were all
  pulled before the window was marked complete.
* Windows are independent, so up to ``max_concurrent_requests`` of them are read ahead
  (``tap_refiner.fetch_ahead``; one window's pages are a cursor chain, read one after another)
  into spool files (``tap_refiner.shared_windows``; a window read ahead pauses before a page
  request while the spools alive exceed ``READ_AHEAD_BYTES``, the next to write never; paused
  between pages, a reader holds no parsed page), and written in window order: the
  records and STATE messages are exactly a sequential run's, and a window's bookmark moves only
  once it and every earlier window are written. ``answers`` beside ``responses`` asking exactly
  the same windows (same settings and bookmark, the run's one "now") is written in turns with
  it, window by window from the same spool (``shared_windows.Lockstep``), so it costs no second
  pass and the run never keeps more than the windows read ahead on disk. The follower reads
  nothing itself, so it runs no pool (its windows come from the leader's).
* The lookback (``responses_lookback_hours``) re-reads recent windows so a response stored late
  with a past date (e.g. via ``POST /responses`` with ``date``) is still picked up; primary keys
  make the re-read rows harmless downstream.
* The bookmark records the filters it was made under (``form_uuids``, ``responses_include``;
  ``tap_refiner.bookmark_filters``). Surveys added since are read first, in catch-up windows
  (``form_uuids[]`` = the added ones, up to where the bookmark resumes) that move no bookmark; a
  changed ``responses_include`` reads everything again as a first run would.
* With neither a bookmark nor ``start_date``, the oldest response is guessed cheaply (the last
  page of a ``page_length=1`` listing, when the API fills ``last_page``) so the first run is
  windowed too; the guess is never trusted alone: a first window ``[1970-01-01, guess)`` reads
  whatever is older (one empty request when the guess was right, everything when ``last_page``
  was missing). The guess uses the time the API filters on: last data reception, or last shown
  time with ``include=all`` (refiner-api.md §3.6).
"""

from __future__ import annotations

import json
import threading
from contextlib import closing
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_refiner.account_filters import check_account_filters
from tap_refiner.bookmark_filters import (
    FilterChanges,
    filter_changes,
    filter_values,
    record_filters,
)
from tap_refiner.client import FORMS_LISTING_PARAMS, RefinerStream
from tap_refiner.fetch_ahead import FetchAhead
from tap_refiner.timestamps import format_param, format_utc, normalize, parse
from tap_refiner.windows import Window, date_windows

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import requests
    from singer_sdk.helpers.types import Context, Record, RequestFunc

    from refiner_http.page_reader import PageToken
    from tap_refiner.shared_windows import Partner, SpooledWindow

#: Where a first run's catch-all window starts (an example value in refiner-api.md §3.6).
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Settings a responses bookmark depends on (``tap_refiner.bookmark_filters``).
BOOKMARK_FILTERS = ("responses_include", "form_uuids")
#: The window a ``FetchAhead`` thread is reading: ``hold()`` says whether it is read ahead.
_reading = threading.local()


def _bounds(window: Window) -> dict[str, Any]:
    """The window's query bounds; a catch-up window also names only the surveys it adds."""
    bounds: dict[str, Any] = {
        "date_range_start": format_param(window.start),
        "date_range_end": format_param(window.end),
    }
    if window.form_uuids is not None:
        bounds["form_uuids[]"] = list(window.form_uuids)
    return bounds


class WindowedResponsesStream(RefinerStream):
    """Reads ``/responses`` window by window; subclasses decide what rows a response makes."""

    path = "/responses"
    replication_key = "last_data_reception_at"

    # -- settings ---------------------------------------------------------------------------
    @override
    def get_url_params(
        self, context: Context | None, next_page_token: PageToken | None
    ) -> dict[str, Any]:
        """``include``, ``with_attributes``, ``form_uuids[]``, the window bounds, paging."""
        params: dict[str, Any] = {"include": self.config.get("responses_include", "completed")}
        if self.config.get("with_attributes"):
            params["with_attributes"] = 1
        if form_uuids := self.config.get("form_uuids"):
            params["form_uuids[]"] = list(form_uuids)
        return {**params, **(context or {}), **super().get_url_params(context, next_page_token)}

    # -- the windows ------------------------------------------------------------------------
    def _bookmark(self, context: Context | None) -> datetime | None:
        state = self.get_context_state(context)
        value = state.get("replication_key_value")
        if value and state.get("replication_key") == self.replication_key:
            return parse(str(value))
        return None

    def _oldest_response(self) -> datetime | None:
        """Reception time of the oldest response matching the filters, or None if none."""
        probe = {**self.get_url_params(None, None), "page_length": 1}
        key = json.dumps(probe, sort_keys=True)
        return self.tap.shared_windows.oldest(key, lambda: self._guess_oldest(probe))

    def _guess_oldest(self, probe: dict[str, Any]) -> datetime | None:
        """The probe: the last item of a one-per-page listing (its last page, if told)."""
        body = self.fetch(self.path, probe)
        items = body.get("items") if isinstance(body, dict) else None
        if not items:
            return None
        last_page = (body.get("pagination") or {}).get("last_page")
        if isinstance(last_page, int) and last_page > 1:
            body = self.fetch(self.path, {**probe, "page": last_page})
            items = (body.get("items") if isinstance(body, dict) else None) or items
        oldest = items[-1]
        fields = ("last_data_reception_at", "last_shown_at", "first_shown_at")
        if self.config.get("responses_include") == "all":
            fields = ("last_shown_at", "first_shown_at", "last_data_reception_at")
        stamp = normalize(next((oldest[f] for f in fields if oldest.get(f)), None))
        return parse(stamp) if stamp else None

    def windows(self, context: Context | None) -> list[Window]:
        """The windows this run reads, oldest first (catch-up windows for added surveys first)."""
        end = self._now(context)
        start_date = self.config.get("start_date")
        floor = parse(str(start_date)) if start_date else None
        bookmark = self._bookmark(context)
        changes = filter_changes(
            self.get_context_state(context), self._filters(), stream=self.name, log=self.logger
        )
        if bookmark is not None and changes.changed("responses_include"):
            self.logger.warning(
                "Setting `responses_include` is %r, the bookmark of `%s` was made under %r: "
                "reading %s again from %s",
                changes.current["responses_include"],
                self.name,
                changes.recorded["responses_include"],
                self.name,
                start_date or "the oldest response",
            )
            bookmark = None
        if bookmark is None:
            return self._first_windows(end, floor)
        lookback = timedelta(hours=float(self.config.get("responses_lookback_hours", 24)))
        start = bookmark - lookback
        if floor is not None:
            start = max(start, floor)
        days = float(self.config.get("responses_window_days", 30))
        normal = date_windows(start, end, days) or [Window(end, end)]
        return [*self._catch_up(changes, floor, start), *normal]

    def _first_windows(self, end: datetime, floor: datetime | None) -> list[Window]:
        """Windows without a bookmark: from ``start_date``, or from the oldest response."""
        days = float(self.config.get("responses_window_days", 30))
        if floor is not None:
            return date_windows(floor, end, days) or [Window(end, end)]
        oldest = self._oldest_response()
        if oldest is None:
            return [Window(end, end)]  # nothing yet: just record "read up to now"
        start = min(oldest.replace(hour=0, minute=0, second=0, microsecond=0), end)
        return [Window(EPOCH, start), *date_windows(start, end, days)]

    def _filters(self) -> dict[str, Any]:
        """The current values of the settings the bookmark depends on."""
        return filter_values(self.config, BOOKMARK_FILTERS)

    def _catch_up(
        self, changes: FilterChanges, floor: datetime | None, until: datetime
    ) -> list[Window]:
        """Windows reading, up to where the bookmark resumes, the surveys added since it."""
        added = changes.added("form_uuids", self._all_form_uuids)
        if not added:
            return []
        self.logger.warning(
            "Setting `form_uuids` adds %s since the bookmark of `%s` was written: reading "
            "their responses from %s up to %s, then from the bookmark as usual",
            ", ".join(repr(uuid) for uuid in added),
            self.name,
            format_utc(floor) if floor else "the oldest",
            format_utc(until),
        )
        only = tuple(added)
        if floor is None:
            return [Window(EPOCH, until, only)]
        days = float(self.config.get("responses_window_days", 30))
        return [Window(w.start, w.end, only) for w in date_windows(floor, until, days)]

    def _all_form_uuids(self) -> list[str]:
        """Every survey of the account, archived ones included (the run's forms listing)."""
        return [str(form["uuid"]) for form in self.shared_items("/forms", FORMS_LISTING_PARAMS)]

    def _now(self, context: Context | None) -> datetime:
        signpost = self.get_replication_key_signpost(context)
        moment = signpost if isinstance(signpost, datetime) else datetime.now(timezone.utc)
        return moment.replace(microsecond=0)

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Raw responses of each window (fully paged), then the window's bookmark.

        Windows are read ahead on ``FetchAhead`` threads (each window's pages one after
        another: they are a cursor chain) and written strictly in order, so a bookmark moves
        only once its window and every earlier one are written.
        """
        check_account_filters(self, ("form_uuids",))
        shared = self.tap.shared_windows
        if shared.synced(self.name):
            return  # written in turns with the stream that read the windows
        shared.start(self.name, self._windowed_readers())
        windows = self.windows(context)
        ahead = FetchAhead(1)  # a follower's windows come from its leader: no pool
        turn = [0]  # the next window to write: those after it are read ahead (byte budget)

        def read(numbered: tuple[int, Window]) -> SpooledWindow | None:
            index, window = numbered
            return self._read_window(window, ahead, lambda: index > turn[0])

        try:  # closing(): the reading threads are stopped and awaited before finish()
            shared.pair(self.name, [self.window_key(w) for w in windows], self._partners())
            if not shared.follows(self.name):
                ahead = self.fetch_ahead()
            with closing(ahead.in_order(read, enumerate(windows))) as reads:
                for index, (window, spooled) in enumerate(zip(windows, reads, strict=True)):
                    shared.take_turn(self.name, index)
                    if spooled is not None:
                        yield from spooled.items()
                        shared.written(spooled, self.name)
                    turn[0] = index + 1
                    self._complete_window(context, window)
                    if spooled is not None:
                        self.log("%s: %s, %d responses", self.name, window, spooled.count)
                    shared.end_turn(self.name, index)
        finally:
            shared.finish(self.name)

    def _read_window(
        self, window: Window, ahead: FetchAhead, early: Callable[[], bool]
    ) -> SpooledWindow | None:
        """Every raw response of ``window`` (None for an empty one), spooled or shared.

        While ``early()`` (read ahead of the window being written) it pauses over the budget.
        """
        if window.start >= window.end:
            return None
        bounds = _bounds(window)

        def held() -> bool:
            return early() and not ahead.stopping.is_set()

        def items() -> Iterable[dict[str, Any]]:
            _reading.hold = held  # the page requests pause, not the items (request_decorator)
            try:
                for item in self.request_records(bounds):
                    ahead.check()
                    yield item
            finally:
                _reading.hold = None

        return self.tap.shared_windows.read(self.window_key(window), items, self.name, early=held)

    @override
    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        """Before each page of a window read ahead: wait while the spools exceed the budget.

        A window's reader pauses between pages, never within one, so a paused reader holds
        no parsed page (``RefinerStream.decode``), only the last response's bytes.
        """
        request = super().request_decorator(func)

        def paused(
            prepared: requests.PreparedRequest, context: Context | None
        ) -> requests.Response:
            hold = getattr(_reading, "hold", None)
            if hold is not None:
                self.tap.shared_windows.make_room(hold)
            return request(prepared, context)

        return paused

    def window_key(self, window: Window) -> str:
        """The window's whole query: equal keys are the same request (``shared_windows``)."""
        return json.dumps(self.get_url_params(_bounds(window), None), sort_keys=True)

    def window_keys(self) -> list[str]:
        """The keys of the windows this run reads (the stream has no partitions)."""
        return [self.window_key(w) for w in self.windows(None)]

    def sync_as_follower(self) -> None:
        """What the SDK's ``sync_all`` does for a stream, run by a leader (``shared_windows``)."""
        self.sync()
        self.finalize_state_progress_markers()

    def _partners(self) -> list[Partner]:
        """Selected windowed streams still to come, that may write in turns with this one.

        Not in BATCH mode: a batch's messages are not written at window ends.
        """
        if self.get_batch_config(self.config) is not None:
            return []
        return [
            (name, stream.window_keys, stream.sync_as_follower)
            for name, stream in self.tap.streams.items()
            if name != self.name
            and isinstance(stream, WindowedResponsesStream)
            and stream.selected
            and not self.tap.shared_windows.started(name)
        ]

    def _windowed_readers(self) -> list[str]:
        """The run's selected streams that read ``/responses`` in windows (share them)."""
        return [
            name
            for name, stream in self.tap.streams.items()
            if isinstance(stream, WindowedResponsesStream) and stream.selected
        ]

    def _complete_window(self, context: Context | None, window: Window) -> None:
        """Move the bookmark to the end of a fully read window (and say so downstream).

        A catch-up window moves nothing: the bookmark and its new filters move together with
        the first usual window after the catch-up, so a run stopped during it catches up again.
        """
        if window.form_uuids is not None:
            return
        state = self.get_context_state(context)
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = format_utc(window.end)
        record_filters(state, self._filters())
        self.state_manager.is_flushed = False
        if self.get_batch_config(self.config) is None:
            self._write_state_message()

    @override
    def _increment_stream_state(
        self,
        latest_record: Record,
        *,
        context: Context | None = None,
    ) -> None:
        """Per-record bookmarks are not used: see the module docstring."""
