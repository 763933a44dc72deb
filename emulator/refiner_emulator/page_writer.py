"""Serving pages: page numbers and keyset cursors in the documented ``pagination`` envelope.

A cursor is the sort key of the last row served, so rows inserted while a client pages by
cursor never cause duplicates or skips (page numbers, like the real API's, do shift). Cursors
are signed and bound to the query that produced them: a cursor from another query, or any
edited or garbage string, is rejected with 400.

:class:`Untidy` switches the variants the documentation leaves open: empty pages that still
carry a cursor (each page, and the end, is followed by one), no ``last_page``, offset cursors
(the position is an index, so rows inserted before it shift what comes next), no
``items_count``, and listings that end early: after N items the page is a plain 200 with no
cursor and a ``last_page`` that is this page, while ``items_count`` still says the whole count
(an API capping its listings, or a paging bug).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from refiner_emulator.store import ApiError

if TYPE_CHECKING:
    from collections.abc import Sequence

MAX_PAGE_LENGTH = 1000
PAGING_KEYS = frozenset({"page", "page_length", "page_cursor", "api_key"})


@dataclass(frozen=True, slots=True)
class Untidy:
    """Paging variants an API may have (see the module doc); all off is the documented one."""

    empty_pages: bool = False
    no_last_page: bool = False
    offset_cursors: bool = False
    end_early: int = 0  # serve at most this many items of a listing (0: all)
    no_items_count: bool = False


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What the client asked for: a page number, or a position after a cursor key."""

    page: int
    page_length: int
    after: tuple[Any, ...] | None
    query_id: str
    offset: int | None = None  # an offset cursor's position
    empty: bool = False  # the empty page in front of the real one (Untidy.empty_pages)


def _int_param(params: dict[str, Any], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise ApiError(400, f"The {name} must be an integer.")
    try:
        value = int(raw) if not isinstance(raw, float) or raw.is_integer() else None
    except (TypeError, ValueError):
        value = None
    if value is None:
        raise ApiError(400, f"The {name} must be an integer.")
    return value


def query_id(route: str, params: dict[str, Any]) -> str:
    """Fingerprint of a list query without its paging parameters."""
    rest = {k: v for k, v in params.items() if k not in PAGING_KEYS}
    text = json.dumps([route, rest], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Pager:
    """Signs, checks and applies cursors for one emulator process."""

    def __init__(self, secret: str) -> None:
        """``secret`` makes cursors of one emulator run unforgeable by clients."""
        self._secret = secret.encode()
        self.untidy = Untidy()

    def _sign(self, body: str) -> str:
        return hashlib.sha256(self._secret + body.encode()).hexdigest()[:20]

    def encode(
        self,
        key: tuple[Any, ...],
        page: int,
        qid: str,
        *,
        offset: int | None = None,
        empty: bool = False,
    ) -> str:
        """An opaque base64 cursor pointing after ``key`` (or at ``offset``)."""
        fields = {"q": qid, "k": list(key), "p": page, "o": offset, "e": empty}
        body = json.dumps(fields, separators=(",", ":"))
        token = json.dumps({"b": body, "s": self._sign(body)}, separators=(",", ":"))
        return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")

    def decode(self, cursor: str, qid: str) -> PageRequest:
        """The position a cursor names, or 400 for anything not issued for this query."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            token = json.loads(raw)
            body = token["b"]
            signed = isinstance(body, str) and token["s"] == self._sign(body)
            decoded: dict[str, Any] = json.loads(body) if signed else {}
            key, page, qid_seen = tuple(decoded["k"]), int(decoded["p"]), decoded["q"]
            offset = None if decoded.get("o") is None else int(decoded["o"])
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError) as exc:
            raise ApiError(400, "The page cursor is invalid.") from exc
        if qid_seen != qid:
            raise ApiError(400, "The page cursor does not belong to this query.")
        empty = bool(decoded.get("e"))
        return PageRequest(page, 0, key, qid, offset=offset, empty=empty)

    def request(self, params: dict[str, Any], default_length: int, route: str) -> PageRequest:
        """Validate ``page``, ``page_length`` and ``page_cursor`` (400 on bad values)."""
        length = _int_param(params, "page_length", default_length)
        if length < 1 or length > MAX_PAGE_LENGTH:
            raise ApiError(400, f"The page_length must be between 1 and {MAX_PAGE_LENGTH}.")
        qid = query_id(route, params)
        cursor = params.get("page_cursor")
        if cursor not in (None, ""):
            if not isinstance(cursor, str):
                raise ApiError(400, "The page cursor is invalid.")
            at = self.decode(cursor, qid)
            return PageRequest(at.page, length, at.after, qid, offset=at.offset, empty=at.empty)
        page = _int_param(params, "page", 1)
        if page < 1:
            raise ApiError(400, "The page must be at least 1.")
        return PageRequest(page=page, page_length=length, after=None, query_id=qid)

    def page(
        self, keys: Sequence[tuple[Any, ...]], req: PageRequest
    ) -> tuple[Sequence[tuple[Any, ...]], dict[str, Any]]:
        """Slice one page out of sorted ``keys`` and build the ``pagination`` object."""
        items_count = len(keys)
        if self.untidy.end_early:
            keys = keys[: self.untidy.end_early]
        total = len(keys)
        if req.offset is not None:
            start = req.offset
        elif req.after is not None:
            start = bisect_right(keys, req.after)
        else:
            start = (req.page - 1) * req.page_length
        if req.empty:  # the empty page in front of the real one at this position
            chunk: Sequence[tuple[Any, ...]] = []
            real = start < total
            next_cursor = self._cursor(req.after or (), start, req.page, req) if real else None
        else:
            end = start + req.page_length
            chunk = keys[start:end]
            more = end < total and bool(chunk)
            next_cursor = None
            if more or (self.untidy.empty_pages and chunk):
                last = chunk[-1] if chunk else ()
                next_cursor = self._cursor(last, end, req.page + 1, req, empty=True)
                if not self.untidy.empty_pages and not more:
                    next_cursor = None
        pagination: dict[str, Any] = {
            "items_count": items_count,
            "current_page": req.page,
            "last_page": max(1, -(-total // req.page_length)),
            "page_length": req.page_length,
            "next_page_cursor": next_cursor,
        }
        if self.untidy.no_last_page:
            del pagination["last_page"]
        if self.untidy.no_items_count:
            del pagination["items_count"]
        return chunk, pagination

    def _cursor(
        self, key: tuple[Any, ...], offset: int, page: int, req: PageRequest, *, empty: bool = False
    ) -> str:
        """The next cursor: a keyset (or, untidy, an offset), via an empty page when switched on."""
        return self.encode(
            key,
            page,
            req.query_id,
            offset=offset if self.untidy.offset_cursors else None,
            empty=empty and self.untidy.empty_pages,
        )
