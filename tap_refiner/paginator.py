"""Refiner's two paging styles (``refiner_http.page_reader``) behind one SDK paginator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk.pagination import BaseAPIPaginator
from typing_extensions import override

from refiner_http.page_reader import PageGuard, PageToken, next_page_params

if TYPE_CHECKING:
    from collections.abc import Callable

    import requests


class RefinerPaginator(BaseAPIPaginator[PageToken | None]):
    """Cursor first, page numbers as fallback; reads the body the stream already decoded."""

    def __init__(self, decode: Callable[[requests.Response], Any], endpoint: str) -> None:
        """``decode`` returns the (cached) JSON body so each page is parsed only once."""
        super().__init__(None)
        self._decode = decode
        self._guard = PageGuard(endpoint)

    @override
    def get_next(self, response: requests.Response) -> PageToken | None:
        """Parameters of the next page, or None to stop (checked by the shared guard)."""
        body = self._decode(response)
        return self._guard.check(body, next_page_params(body))

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        """Always: ``get_next`` decides where an empty page leads (further, or the end).

        An empty page that still points further is not the end (refiner-api.md §2, §6); one
        that does not ends the listing there. Answering False made the SDK log "Pagination
        stopped ... no records were found" for every empty window, which reads like a failure.
        """
        return True
