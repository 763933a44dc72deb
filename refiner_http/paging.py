"""Refiner's two paging styles, decided in one place for every client.

List endpoints answer ``pagination.next_page_cursor`` (preferred: stable on large sets) and
``current_page``/``last_page``. We follow the cursor while there is one and fall back to page
numbers when the API gives no cursor but says more pages exist (refiner-api.md §2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

PageToken = dict[str, Any]
PAGE_KEYS = frozenset({"page", "page_cursor"})


def next_page_params(body: Any) -> PageToken | None:  # noqa: ANN401 - the API's JSON
    """The query parameters that fetch the page after ``body``, or None on the last page."""
    if not isinstance(body, dict):
        return None
    pagination = body.get("pagination") or {}
    cursor = pagination.get("next_page_cursor")
    if cursor:
        return {"page_cursor": cursor}
    current, last = pagination.get("current_page"), pagination.get("last_page")
    if body.get("items") and isinstance(current, int) and isinstance(last, int) and current < last:
        return {"page": current + 1}
    return None


def with_page(query: dict[str, Any], token: PageToken) -> dict[str, Any]:
    """``query`` moved to the page ``token`` names (a cursor replaces a page number and back)."""
    return {**{k: v for k, v in query.items() if k not in PAGE_KEYS}, **token}


def iterate_items(
    fetch_page: Callable[[dict[str, Any]], Any], query: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Every item of a list endpoint: ``fetch_page(query)`` per page, cursor or page numbers."""
    while True:
        body = fetch_page(query)
        items = body.get("items") if isinstance(body, dict) else None
        yield from items or ()
        token = next_page_params(body)
        if not token:
            return
        query = with_page(query, token)
