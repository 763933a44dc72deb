"""API key extraction and checking, reproducing the three measured error bodies (§1.2).

A key is looked for in this order: ``Authorization: Bearer <key>``, the ``api_key`` parameter
(query string or body), then HTTP Basic with the key as user name. What counts as a key:

* missing, or shorter than ``MIN_KEY_CHARS`` (8) characters -> 401 "No API key found in headers"
* 8+ characters but not only ``[A-Za-z0-9_-]``, or longer than 128 -> 401 "does not look valid"
* well formed but not one of the configured keys -> 404 (or 400 by switch) "not valid or does
  not exist"; a UUID is well formed, which is how the real API answers it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

MIN_KEY_CHARS = 8
_WELL_FORMED = re.compile(r"^[A-Za-z0-9_-]{8,128}$")

NO_KEY = {"error": "No API key found in headers"}
MALFORMED = {"error": "API key does not look valid"}
UNKNOWN = {"message": "API key not valid or does not exist"}


@dataclass(frozen=True, slots=True)
class Credentials:
    """The key a request carried and how it carried it (``bearer``/``query``/``basic``)."""

    key: str | None
    method: str | None


def extract(authorization: str | None, params: dict[str, Any]) -> Credentials:
    """Find the key; ``method`` is reported in the call log (``query`` covers body too)."""
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return Credentials(value.strip(), "bearer")
    api_key = params.get("api_key")
    if isinstance(api_key, str) and api_key:
        return Credentials(api_key, "query")
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "basic" and value.strip():
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return Credentials(None, None)
            user = decoded.partition(":")[0]
            if user:
                return Credentials(user, "basic")
    return Credentials(None, None)


def check(
    key: str | None, known: set[str], unknown_status: int
) -> tuple[int, dict[str, str]] | None:
    """None when the key is accepted, else ``(status, body)`` exactly as Refiner answers."""
    if key is None or len(key) < MIN_KEY_CHARS:
        return 401, NO_KEY
    if not _WELL_FORMED.match(key):
        return 401, MALFORMED
    if key not in known:
        return unknown_status, UNKNOWN
    return None
