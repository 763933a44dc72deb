"""Refiner's two paging styles (``refiner_http.paging``) behind one SDK paginator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk.pagination import BaseAPIPaginator

from refiner_http.paging import PageToken, next_page_params

if TYPE_CHECKING:
    from collections.abc import Callable

    import requests


class RefinerPaginator(BaseAPIPaginator[PageToken | None]):
    """Cursor first, page numbers as fallback; reads the body the stream already decoded."""

    def __init__(self, decode: Callable[[requests.Response], Any]) -> None:
        """``decode`` returns the (cached) JSON body so each page is parsed only once."""
        super().__init__(None)
        self._decode = decode

    def get_next(self, response: requests.Response) -> PageToken | None:
        """Parameters of the next page, or None to stop."""
        return next_page_params(self._decode(response))
