"""Page-number and keyset-cursor pagination with the documented ``pagination`` envelope.

A cursor is the sort key of the last row served, so rows inserted while a client pages by
cursor never cause duplicates or skips (page numbers, like the real API's, do shift). Cursors
are signed and bound to the query that produced them: a cursor from another query, or any
edited or garbage string, is rejected with 400.
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
class PageRequest:
    """What the client asked for: a page number, or a position after a cursor key."""

    page: int
    page_length: int
    after: tuple[Any, ...] | None
    query_id: str


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

    def _sign(self, body: str) -> str:
        return hashlib.sha256(self._secret + body.encode()).hexdigest()[:20]

    def encode(self, key: tuple[Any, ...], page: int, qid: str) -> str:
        """An opaque base64 cursor pointing after ``key``."""
        body = json.dumps({"q": qid, "k": list(key), "p": page}, separators=(",", ":"))
        token = json.dumps({"b": body, "s": self._sign(body)}, separators=(",", ":"))
        return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")

    def decode(self, cursor: str, qid: str) -> tuple[tuple[Any, ...], int]:
        """Return ``(key, page)`` or raise 400 for anything not issued for this query."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            token = json.loads(raw)
            body = token["b"]
            signed = isinstance(body, str) and token["s"] == self._sign(body)
            decoded: dict[str, Any] = json.loads(body) if signed else {}
            key, page, qid_seen = tuple(decoded["k"]), int(decoded["p"]), decoded["q"]
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError) as exc:
            raise ApiError(400, "The page cursor is invalid.") from exc
        if qid_seen != qid:
            raise ApiError(400, "The page cursor does not belong to this query.")
        return key, page

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
            key, page = self.decode(cursor, qid)
            return PageRequest(page=page, page_length=length, after=key, query_id=qid)
        page = _int_param(params, "page", 1)
        if page < 1:
            raise ApiError(400, "The page must be at least 1.")
        return PageRequest(page=page, page_length=length, after=None, query_id=qid)

    def page(
        self, keys: Sequence[tuple[Any, ...]], req: PageRequest
    ) -> tuple[Sequence[tuple[Any, ...]], dict[str, Any]]:
        """Slice one page out of sorted ``keys`` and build the ``pagination`` object."""
        total = len(keys)
        start = (
            bisect_right(keys, req.after)
            if req.after is not None
            else (req.page - 1) * req.page_length
        )
        end = start + req.page_length
        chunk = keys[start:end]
        next_cursor = None
        if end < total and chunk:
            next_cursor = self.encode(chunk[-1], req.page + 1, req.query_id)
        pagination = {
            "items_count": total,
            "current_page": req.page,
            "last_page": max(1, -(-total // req.page_length)),
            "page_length": req.page_length,
            "next_page_cursor": next_cursor,
        }
        return chunk, pagination
