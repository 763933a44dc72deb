"""``RefinerStream``: the SDK's RESTStream wired to the shared Refiner HTTP policy.

Auth (Bearer), pacing, retries (429 with ``Retry-After``, 5xx and network errors with jittered
backoff) and error classification come from ``refiner_http.HttpPolicy``; this class only
adapts them to the SDK's hooks (``request_decorator``, ``validate_response``), adds paging and
projects every record onto the stream's schema (``tap_refiner.projection``).

Every SDK hook overridden here or in the streams carries ``@override``, so a renamed hook fails
type checking. The few private singer-sdk members still relied on (singer-sdk 0.54 has no
public equivalent) are listed, with why, in ``SDK_PRIVATE_MEMBERS`` and nowhere else; a test
checks that the installed SDK still has each of them.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, cast

import msgspec
from singer_sdk import singerlib
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import RESTStream
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override

from refiner_http.client import USER_AGENT, BearerAuth, resolve_url
from refiner_http.page_reader import PageToken, iterate_items
from tap_refiner.fetch_ahead import DEFAULT_WORKERS, FetchAhead, worker_session
from tap_refiner.paginator import RefinerPaginator
from tap_refiner.projection import projection
from tap_refiner.run_summary import SummarizedStream

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Mapping

    import requests
    from singer_sdk.helpers.types import Context, RequestFunc

    from refiner_http import HttpPolicy
    from tap_refiner.projection import Record
    from tap_refiner.tap import TapRefiner

#: Every private singer-sdk member this package uses, and why (the one list of them).
SDK_PRIVATE_MEMBERS: Mapping[str, str] = {
    "Stream._tap": "the stream's tap holds the run's one HttpPolicy, shared listings and summary "
    "(run_summary.py)",
    "Stream._generate_record_messages": "RECORD messages without the SDK's no-op deselection "
    "walk when nothing is deselected (RefinerStream)",
    "Stream._stream_version": "the version those RECORD messages carry, as the SDK's own",
    "RESTStream._request": "one authenticated, checked GET outside request_records (fetch)",
    "Stream._write_state_message": "STATE after each fully read responses window",
    "Stream._increment_stream_state": "switched off: responses bookmarks move per window",
    "StreamStateManager.is_flushed": "marks a window's bookmark as not yet sent",
    "Tap._handle_termination": "SIGTERM/SIGINT stop the run with 143/130 (the SDK's exits 0)",
}

#: The forms listing: every survey, archived ones included, with info and config.
FORMS_LISTING_PARAMS: Mapping[str, Any] = {
    "list": "all_with_archived",
    "include_info": 1,
    "include_config": 1,
}

_decoder = msgspec.json.Decoder()
#: The last body each thread decoded (the paginator and ``parse_response`` share it).
_decoded = threading.local()


class RefinerStream(SummarizedStream, RESTStream[PageToken | None]):
    """Base of every Refiner stream: one request policy, cursor/page paging, lean records.

    ``post_process`` projects every record onto exactly the stream's schema (keys, types and
    UTC timestamps), so the SDK's generic recursive type conformance, which costs more than
    the HTTP call itself on large pages, is switched off through its supported hook. Streams
    whose rows are the API's objects need only declare ``name``, ``path``, keys and
    ``schema``; streams that restructure build their rows in ``get_records``.
    """

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: Whether the endpoint pages (``page_length`` and a paginator); False for single objects.
    paged: ClassVar[bool] = True
    #: Top-level keys kept exactly as the API sends them although their schema names keys.
    as_sent: ClassVar[Collection[str]] = ()

    @property
    @override
    def url_base(self) -> str:
        """The ``api_url`` setting, e.g. ``https://api.refiner.io/v1``."""
        return str(self.config["api_url"]).rstrip("/")

    @cached_property
    @override
    def authenticator(self) -> BearerAuth:
        """Bearer auth from the shared package; the key never appears in URLs or logs."""
        return BearerAuth(str(self.config["api_key"]))

    @property
    @override
    def http_headers(self) -> dict[str, str]:
        """Ask for JSON."""
        return {"Accept": "application/json"}

    @cached_property
    @override
    def user_agent(self) -> str:
        """The same User-Agent as every other Refiner client of this project."""
        return str(self.config.get("user_agent") or USER_AGENT)

    @property
    @override
    def timeout(self) -> int:
        """The ``request_timeout`` setting, in seconds."""
        return int(self.config["request_timeout"])

    @property
    @override
    def requests_session(self) -> requests.Session:
        """The stream's session, or a ``FetchAhead`` worker thread's own one."""
        return worker_session() or super().requests_session

    @property
    def tap(self) -> TapRefiner:
        """The tap running this stream (one per run)."""
        return cast("TapRefiner", self._tap)

    @property
    def policy(self) -> HttpPolicy:
        """The tap's one policy, shared by all streams so pacing covers the whole run."""
        return self.tap.http_policy

    # -- records ----------------------------------------------------------------------------
    @cached_property
    def projection(self) -> Callable[[Mapping[str, Any]], Record]:
        """The stream's schema compiled once into the function that shapes each record."""
        return projection(self.schema, as_sent=self.as_sent)

    @override
    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Exactly the schema's keys, timestamps in UTC, nested objects projected alike."""
        return self.projection(row)

    @cached_property
    def _nothing_deselected(self) -> bool:
        """True when the catalog deselects no property of this stream (the usual case)."""
        return all(self.mask.values())

    @override
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
    @override
    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        """Pace each attempt and retry what the policy says is retryable; count each attempt."""

        def attempt(
            request: requests.PreparedRequest, context: Context | None
        ) -> requests.Response:
            self.run_summary.add(self.name, requests=1)
            return func(request, context)

        return self.policy.retrying(attempt)

    @override
    def validate_response(self, response: requests.Response) -> None:
        """Raise the policy's error type (auth, API, transient, rate limited) for non-2xx."""
        self.policy.check(response)
        self.run_summary.add(self.name, pages=1)

    # -- paging and parsing -----------------------------------------------------------------
    def decode(self, response: requests.Response, *, last_use: bool = False) -> Any:  # noqa: ANN401 - the API's JSON
        """Decode a body once; the paginator and ``parse_response`` share the result.

        The cache is per thread: pages read on ``FetchAhead`` threads never see each other's.
        ``last_use`` (the paginator, after the page's items) drops it: a thread waiting for its
        next page, or paused by the read-ahead budget, holds no parsed page (issue 18: sixteen
        threads kept one each, ~2 MB a page of 1,000 responses).
        """
        if getattr(_decoded, "response", None) is response:
            body = _decoded.body
        else:
            body = _decoder.decode(response.content) if response.content else None
        _decoded.response, _decoded.body = (None, None) if last_use else (response, body)
        return body

    @override
    def get_new_paginator(self) -> RefinerPaginator | None:
        """Cursor paging with page-number fallback, for list endpoints."""
        if not self.paged:
            return None
        return RefinerPaginator(self.decode, str(self.path), self.logger.warning)

    @override
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

    @override
    def get_url_params(
        self, context: Context | None, next_page_token: PageToken | None
    ) -> dict[str, Any]:
        """Page size and paging token (cursor or page number); streams put their filters first.

        The one hook for query parameters: a stream with filters returns
        ``{**filters, **super().get_url_params(context, next_page_token)}``.
        """
        params: dict[str, Any] = {"page_length": self.page_length} if self.paged else {}
        if next_page_token:
            params.update(next_page_token)
        return params

    def fetch_ahead(self) -> FetchAhead:
        """A pool for this stream's independent requests (``max_concurrent_requests``)."""
        return FetchAhead(int(self.config.get("max_concurrent_requests") or DEFAULT_WORKERS))

    # -- reading more than the stream's own endpoint ----------------------------------------
    def fetch(self, path: str, params: Mapping[str, Any] | None = None) -> Any:  # noqa: ANN401 - the API's JSON
        """One paced, retried, checked GET of ``path``; returns the decoded body."""
        request = HTTPRequest(url=resolve_url(self.url_base, path), params=dict(params or {}))
        prepared = self.build_prepared_request(
            method="GET",
            url=request.url,
            params=request.encode_params(),
            headers=self.http_headers,
        )

        return self.decode(self.request_decorator(self._request)(prepared, None), last_use=True)

    def fetch_items(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following cursors (or page numbers)."""
        query: dict[str, Any] = {"page_length": self.page_length, **(params or {})}
        return iterate_items(lambda page: self.fetch(path, page), query, path, self.logger.warning)

    def shared_items(self, path: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every item of a listing several streams read: fetched in full once per run."""
        return self.tap.shared_listings.items(path, params, self.fetch_items)


class SharedListings:
    """Listings more than one stream reads (``/forms``), kept for the run that read them.

    One per tap instance, that is per run: whichever selected stream asks first reads the
    whole listing (through ``fetch_items``, so the same paging and guard as any listing);
    the others reuse it, and the next run reads it again.
    """

    def __init__(self) -> None:
        """No listing read yet."""
        self._items: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def items(
        self,
        path: str,
        params: Mapping[str, Any],
        read: Callable[[str, Mapping[str, Any]], Iterable[dict[str, Any]]],
    ) -> list[dict[str, Any]]:
        """The items of ``path`` with ``params``; ``read(path, params)`` the first time only."""
        key = (path, json.dumps(params, sort_keys=True))
        if key not in self._items:
            self._items[key] = list(read(path, params))
        return self._items[key]
