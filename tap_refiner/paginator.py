"""Refiner's two paging styles (``refiner_http.page_reader``) behind one SDK paginator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from singer_sdk.pagination import BaseAPIPaginator
from typing_extensions import override

from refiner_http.page_reader import PageGuard, PageToken, listing_name, next_page_params

if TYPE_CHECKING:
    from collections.abc import Callable

    import requests


class RefinerPaginator(BaseAPIPaginator[PageToken | None]):
    """Cursor first, page numbers as fallback; reads the body the stream already decoded.

    Every page goes through the shared ``PageGuard`` exactly once (``get_next``), the last
    one included, so a listing's end is always checked against its ``items_count``.
    """

    def __init__(
        self,
        decode: Callable[..., Any],
        endpoint: str,
        warn: Callable[[str], object] | None = None,
    ) -> None:
        """``decode`` returns the (cached) JSON body so each page is parsed only once.

        It is called with ``last_use=True``: nothing reads the body after ``get_next``.
        """
        super().__init__(None)
        self._decode = decode
        self._endpoint = endpoint
        self._guard = PageGuard(endpoint, warn)
        self._named = False

    @override
    def get_next(self, response: requests.Response) -> PageToken | None:
        """Parameters of the next page, or None to stop (checked by the shared guard).

        The guard's messages name the listing with its first request's filters (which segment,
        which window), never its paging parameters.
        """
        if not self._named:
            url = response.request.url if response.request is not None else None
            query = parse_qsl(urlsplit(str(url or "")).query)
            self._guard.endpoint = listing_name(self._endpoint, query)
            self._named = True
        body = self._decode(response, last_use=True)  # the page's last reader
        return self._guard.check(body, next_page_params(body))

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        """Always: ``get_next`` decides where an empty page leads (further, or the end).

        An empty page that still points further is not the end (refiner-api.md §2, §6); one
        that does not ends the listing there. Answering False made the SDK log "Pagination
        stopped ... no records were found" for every empty window, which reads like a failure.
        """
        return True
