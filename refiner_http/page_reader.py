"""Reading Refiner's pages as a client: both paging styles, decided once for every client.

List endpoints answer ``pagination.next_page_cursor`` (preferred: stable on large sets) and
``current_page``/``last_page``. We follow the cursor while there is one and fall back to page
numbers when the API gives no cursor but says more pages exist (refiner-api.md §2).

An API may be less tidy than its documentation: a page can be empty yet carry a cursor (we keep
going), ``last_page`` may be missing (we never rely on it alone), and a cursor could repeat.
:class:`PageGuard` watches one listing: a cursor seen twice or a long run of empty pages is an
error naming the endpoint (never the cursor, which is as sensitive as a query), not a silent
stop.

A listing can also end early with a plain 200 (no cursor, ``last_page`` on this page). Its pages'
``pagination.items_count`` (the query's total, refiner-api.md §2) is then the only sign, so the
guard counts distinct items (by ``uuid``) and, at the end, compares: short by more than
:meth:`ListingCount.tolerance` (the spread of the counts seen while paging, which rows added or
deleted meanwhile explain, plus a small margin) is :class:`ShortListingError`; short within it
is a WARNING. Pages without ``items_count`` are not checked.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from refiner_http.errors import PagingError, ShortListingError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

PageToken = dict[str, Any]
PAGE_KEYS = frozenset({"page", "page_cursor"})
#: Query parameters a listing's name leaves out (paging, and a key someone put in the query).
UNNAMED_PARAMS = PAGE_KEYS | {"page_length", "api_key"}
#: Consecutive empty pages that still point further before we call the listing broken.
MAX_EMPTY_PAGES = 50
#: Pages whose item keys are remembered: rows shifted by changes while paging repeat the rows
#: just before them, and are counted once. Bounded, so memory does not grow with the listing.
RECENT_PAGES = 4
#: What a listing may lack beyond the spread of its ``items_count`` values: churn that leaves
#: the count unchanged (a row added behind the cursor while one ahead is deleted).
SHORT_MARGIN_ROWS = 1
SHORT_MARGIN_SHARE = 0.001

log = logging.getLogger(__name__)


def listing_name(path: str, query: Iterable[tuple[str, Any]]) -> str:
    """``path`` with the filters of ``query`` (never paging parameters), for messages."""
    filters = [f"{k}={v}" for k, v in query if k not in UNNAMED_PARAMS]
    return f"{path} ({', '.join(filters)})" if filters else path


@dataclass(frozen=True)
class ListingCount:
    """A finished listing's distinct items against the ``items_count`` values its pages gave."""

    read: int
    lowest: int
    highest: int

    @property
    def missing(self) -> int:
        """Items the highest count says exist and were not read."""
        return max(0, self.highest - self.read)

    @property
    def tolerance(self) -> int:
        """How many may be missing because rows were added or deleted while paging."""
        margin = max(SHORT_MARGIN_ROWS, math.ceil(self.highest * SHORT_MARGIN_SHARE))
        return self.highest - self.lowest + margin

    def said(self) -> str:
        """What the pages said, for messages."""
        seen = "" if self.lowest == self.highest else f" (from {self.lowest} to {self.highest})"
        return f"its pages' pagination.items_count said {self.highest}{seen}"


class PageGuard:
    """Watches one listing: cursors, empty pages and distinct items against ``items_count``.

    Raises instead of looping, or of taking a listing that ended early for the whole of it.
    """

    def __init__(self, endpoint: str, warn: Callable[[str], object] | None = None) -> None:
        """``endpoint`` names the listing in errors (e.g. ``/contacts``); ``warn`` logs."""
        self.endpoint = endpoint
        self._warn = warn or log.warning
        self._seen: set[str] = set()
        self._empty_run = 0
        self._recent: set[str] = set()  # the keys of the pages in ``_pages``
        self._pages: deque[list[str]] = deque()
        self._read = 0
        self._counts: tuple[int, int] | None = None

    def check(self, body: Any, token: PageToken | None) -> PageToken | None:  # noqa: ANN401
        """``token`` (the next page of ``body``), after checking it leads somewhere new.

        On the last page (``token`` None) the listing's items are checked against its counts.
        """
        items = body.get("items") if isinstance(body, dict) else None
        self._empty_run = 0 if items else self._empty_run + 1
        self._tally(items or (), body)
        if token is None:
            self._finish()
            return None
        if self._empty_run > MAX_EMPTY_PAGES:
            msg = (
                f"Paging {self.endpoint} gave {self._empty_run} empty pages in a row that still "
                "point to a next page; stopping rather than looping (the API's paging is broken)"
            )
            raise PagingError(msg)
        cursor = token.get("page_cursor")
        if cursor is not None:
            if cursor in self._seen:
                msg = (
                    f"Paging {self.endpoint} returned a next-page cursor (***) it had already "
                    "returned; stopping rather than re-reading or skipping rows"
                )
                raise PagingError(msg)
            self._seen.add(cursor)
        return token

    def _tally(self, items: Iterable[Any], body: Any) -> None:  # noqa: ANN401 - the API's JSON
        """Count the page's new distinct items and keep the range of ``items_count``."""
        recent, fresh = self._recent, []
        for item in items:
            key = item.get("uuid") if isinstance(item, dict) else None
            if not isinstance(key, str):
                self._read += 1  # nothing to tell a repeat by: counted
            elif key not in recent:
                recent.add(key)
                fresh.append(key)
                self._read += 1
        if len(self._pages) == RECENT_PAGES:
            recent.difference_update(self._pages.popleft())
        self._pages.append(fresh)
        pagination = body.get("pagination") if isinstance(body, dict) else None
        count = pagination.get("items_count") if isinstance(pagination, dict) else None
        if isinstance(count, int) and not isinstance(count, bool):
            low, high = self._counts or (count, count)
            self._counts = (min(low, count), max(high, count))

    def _finish(self) -> None:
        """The end of the listing: short beyond the tolerance raises, within it warns."""
        if self._counts is None:
            return
        count = ListingCount(self._read, *self._counts)
        if not count.missing:
            return
        if count.missing > count.tolerance:
            msg = (
                f"Listing {self.endpoint} ended after {count.read} items, but {count.said()}: "
                f"{count.missing} missing, more than the {count.tolerance} that rows added or "
                "deleted while paging explain. The API ended the listing early; stopping rather "
                "than taking part of it for all of it"
            )
            raise ShortListingError(
                msg, endpoint=self.endpoint, read=count.read, expected=count.highest
            )
        self._warn(
            f"Listing {self.endpoint} gave {count.read} items, but {count.said()}: "
            f"{count.missing} missing, within the {count.tolerance} that rows added or deleted "
            "while paging explain"
        )


def next_page_params(body: Any) -> PageToken | None:  # noqa: ANN401 - the API's JSON
    """The query parameters that fetch the page after ``body``, or None on the last page."""
    if not isinstance(body, dict):
        return None
    pagination = body.get("pagination") or {}
    cursor = pagination.get("next_page_cursor")
    if cursor:
        return {"page_cursor": cursor}
    current, last = pagination.get("current_page"), pagination.get("last_page")
    if isinstance(current, int) and isinstance(last, int) and current < last:
        return {"page": current + 1}
    return None


def with_page(query: dict[str, Any], token: PageToken) -> dict[str, Any]:
    """``query`` moved to the page ``token`` names (a cursor replaces a page number and back)."""
    return {**{k: v for k, v in query.items() if k not in PAGE_KEYS}, **token}


def iterate_items(
    fetch_page: Callable[[dict[str, Any]], Any],
    query: dict[str, Any],
    endpoint: str = "",
    warn: Callable[[str], object] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every item of a list endpoint: ``fetch_page(query)`` per page, cursor or page numbers."""
    guard = PageGuard(listing_name(endpoint or "the listing", query.items()), warn)
    while True:
        body = fetch_page(query)
        items = body.get("items") if isinstance(body, dict) else None
        yield from items or ()
        token = guard.check(body, next_page_params(body))
        if not token:
            return
        query = with_page(query, token)
