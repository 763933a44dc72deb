"""``RefinerStream``: the SDK's RESTStream wired to the shared Refiner HTTP policy.

Auth (Bearer), pacing, retries (429 with ``Retry-After``, 5xx and network errors with jittered
backoff) and error classification come from ``refiner_http.HttpPolicy``; this class only
adapts them to the SDK's hooks (``request_decorator``, ``validate_response``) and adds paging.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, cast

import msgspec
from singer_sdk import singerlib
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import RESTStream
from singer_sdk.streams.rest import HTTPRequest

from refiner_http.client import USER_AGENT, BearerAuth, resolve_url
from refiner_http.page_reader import PageToken, iterate_items
from tap_refiner.paginator import RefinerPaginator

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator, Mapping

    import requests
    from singer_sdk.helpers.types import Context, RequestFunc

    from refiner_http import HttpPolicy
    from tap_refiner.tap import TapRefiner

_decoder = msgspec.json.Decoder()


class RefinerStream(RESTStream[PageToken | None]):
    """Base of every Refiner stream: one request policy, cursor/page paging, lean records.

    Records are shaped in ``post_process`` into exactly the stream's schema (keys, types and
    UTC timestamps), so the SDK's generic recursive type conformance, which costs more than
    the HTTP call itself on large pages, is switched off through its supported hook.
    """

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: Extra query parameters every request of the stream sends.
    base_params: ClassVar[Mapping[str, Any]] = {}
    #: Whether the endpoint pages (``page_length`` and a paginator); False for single objects.
    paged: ClassVar[bool] = True

    _last_response: requests.Response | None = None
    _last_body: Any = None

    @property
    def url_base(self) -> str:
        """The ``api_url`` setting, e.g. ``https://api.refiner.io/v1``."""
        return str(self.config["api_url"]).rstrip("/")

    @cached_property
    def authenticator(self) -> BearerAuth:
        """Bearer auth from the shared package; the key never appears in URLs or logs."""
        return BearerAuth(str(self.config["api_key"]))

    @property
    def http_headers(self) -> dict[str, str]:
        """Ask for JSON."""
        return {"Accept": "application/json"}

    @cached_property
    def user_agent(self) -> str:
        """The same User-Agent as every other Refiner client of this project."""
        return str(self.config.get("user_agent") or USER_AGENT)

    @property
    def timeout(self) -> int:
        """The ``request_timeout`` setting, in seconds."""
        return int(self.config["request_timeout"])

    @property
    def policy(self) -> HttpPolicy:
        """The tap's one policy, shared by all streams so pacing covers the whole run."""
        return cast("TapRefiner", self._tap).http_policy

    # -- record messages --------------------------------------------------------------------
    @cached_property
    def _nothing_deselected(self) -> bool:
        """True when the catalog deselects no property of this stream (the usual case)."""
        return all(self.mask.values())

    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[singerlib.RecordMessage, None, None]:
        """The SDK's RECORD messages without its no-op walk when nothing is deselected.

        The SDK walks every nested dict of every record (customer attributes included) to pop
        deselected properties; with nothing deselected that walk changes nothing yet costs more
        than shaping the record. Conformance is off, so what remains is exactly the SDK's
        work: stream maps, then one RECORD per map. Any deselection takes the SDK's own path.
        """
        if not self._nothing_deselected or self.TYPE_CONFORMANCE_LEVEL != TypeConformanceLevel.NONE:
            yield from super()._generate_record_messages(record)
            return
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield singerlib.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=datetime.now(timezone.utc),
                )

    # -- HTTP policy hooks ------------------------------------------------------------------
    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        """Pace each attempt and retry what the policy says is retryable."""
        return self.policy.retrying(func)

    def validate_response(self, response: requests.Response) -> None:
        """Raise the policy's error type (auth, API, transient, rate limited) for non-2xx."""
        self.policy.check(response)

    # -- paging and parsing -----------------------------------------------------------------
    def decode(self, response: requests.Response) -> Any:  # noqa: ANN401 - the API's JSON
        """Decode a body once; the paginator and ``parse_response`` share the result."""
        if response is not self._last_response:
            self._last_body = _decoder.decode(response.content) if response.content else None
            self._last_response = response
        return self._last_body

    def get_new_paginator(self) -> RefinerPaginator | None:
        """Cursor paging with page-number fallback, for list endpoints."""
        return RefinerPaginator(self.decode, str(self.path)) if self.paged else None

    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        """Yield the ``items`` of a list page (or the body itself for single objects)."""
        body = self.decode(response)
        if not self.paged:
            if isinstance(body, dict):
                yield body
            return
        items = body.get("items") if isinstance(body, dict) else None
        yield from items or ()

    @property
    def page_length(self) -> int:
        """The ``page_length`` setting (1..1000)."""
        return int(self.config["page_length"])

    def query_params(self, context: Context | None) -> dict[str, Any]:  # noqa: ARG002 - SDK hook signature
        """Stream-specific query parameters; override in streams with filters."""
        return dict(self.base_params)

    def get_url_params(
        self, context: Context | None, next_page_token: PageToken | None
    ) -> dict[str, Any]:
        """Filters, page size and the paging token (cursor or page number)."""
        params = self.query_params(context)
        if self.paged:
            params.setdefault("page_length", self.page_length)
        if next_page_token:
            params.update(next_page_token)
        return params

    # -- helpers for streams that read more than their own endpoint -------------------------
    def fetch(self, path: str, params: Mapping[str, Any] | None = None) -> Any:  # noqa: ANN401 - the API's JSON
        """One paced, retried, checked GET of ``path``; returns the decoded body."""
        request = HTTPRequest(url=resolve_url(self.url_base, path), params=dict(params or {}))
        prepared = self.build_prepared_request(
            method="GET",
            url=request.url,
            params=request.encode_params(),
            headers=self.http_headers,
        )

        return self.decode(self.request_decorator(self._request)(prepared, None))

    def fetch_items(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following cursors (or page numbers)."""
        query: dict[str, Any] = {"page_length": self.page_length, **(params or {})}
        return iterate_items(lambda page: self.fetch(path, page), query, path)
