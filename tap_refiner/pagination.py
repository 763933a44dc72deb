"""Refiner's two paging styles behind one SDK paginator.

List endpoints answer ``pagination.next_page_cursor`` (preferred: stable on large sets) and
``current_page``/``last_page``. We follow the cursor while there is one and fall back to page
numbers when the API gives no cursor but says more pages exist (refiner-api.md §2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk.pagination import BaseAPIPaginator

if TYPE_CHECKING:
    from collections.abc import Callable

    import requests

PageToken = dict[str, Any]


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


class RefinerPaginator(BaseAPIPaginator[PageToken | None]):
    """Cursor first, page numbers as fallback; reads the body the stream already decoded."""

    def __init__(self, decode: Callable[[requests.Response], Any]) -> None:
        """``decode`` returns the (cached) JSON body so each page is parsed only once."""
        super().__init__(None)
        self._decode = decode

    def get_next(self, response: requests.Response) -> PageToken | None:
        """Parameters of the next page, or None to stop."""
        return next_page_params(self._decode(response))
