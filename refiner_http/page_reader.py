"""Reading Refiner's pages as a client: both paging styles, decided once for every client.

List endpoints answer ``pagination.next_page_cursor`` (preferred: stable on large sets) and
``current_page``/``last_page``. We follow the cursor while there is one and fall back to page
numbers when the API gives no cursor but says more pages exist (refiner-api.md §2).

An API may be less tidy than its documentation: a page can be empty yet carry a cursor (we keep
going), ``last_page`` may be missing (we never rely on it alone), and a cursor could repeat.
:class:`PageGuard` watches one listing: a cursor seen twice or a long run of empty pages is an
error naming the endpoint (never the cursor, which is as sensitive as a query), not a silent
stop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

PageToken = dict[str, Any]
PAGE_KEYS = frozenset({"page", "page_cursor"})
#: Consecutive empty pages that still point further before we call the listing broken.
MAX_EMPTY_PAGES = 50


class PagingError(RuntimeError):
    """The API's paging went wrong (a cursor loop, endless empty pages): stop, do not skip."""


class PageGuard:
    """Remembers one listing's cursors and empty pages; raises instead of looping or stopping."""

    def __init__(self, endpoint: str) -> None:
        """``endpoint`` names the listing in errors (e.g. ``/contacts``)."""
        self.endpoint = endpoint
        self._seen: set[str] = set()
        self._empty_run = 0

    def check(self, body: Any, token: PageToken | None) -> PageToken | None:  # noqa: ANN401
        """``token`` (the next page of ``body``), after checking it leads somewhere new."""
        items = body.get("items") if isinstance(body, dict) else None
        self._empty_run = 0 if items else self._empty_run + 1
        if token is None:
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
    fetch_page: Callable[[dict[str, Any]], Any], query: dict[str, Any], endpoint: str = ""
) -> Iterator[dict[str, Any]]:
    """Every item of a list endpoint: ``fetch_page(query)`` per page, cursor or page numbers."""
    guard = PageGuard(endpoint or "the listing")
    while True:
        body = fetch_page(query)
        items = body.get("items") if isinstance(body, dict) else None
        yield from items or ()
        token = guard.check(body, next_page_params(body))
        if not token:
            return
        query = with_page(query, token)
