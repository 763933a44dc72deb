"""The one HTTP policy every Refiner client here shares.

Auth, timeouts, retries that honour ``Retry-After``, pacing per API key and per user id, error
types, secret redaction, reading pages and the connection settings live here once; the tap, the
target and ``refiner-api`` all use it. Nothing here serves HTTP (that is ``refiner_serving``).
"""

from refiner_http.client import DEFAULT_API_URL, RefinerClient
from refiner_http.errors import (
    PagingError,
    RefinerApiError,
    RefinerAuthError,
    RefinerEndpointError,
    RefinerError,
    RefinerRateLimitedError,
    RefinerTransientError,
    RefinerUnreachableError,
)
from refiner_http.pacing import KeyedPacer, Pacer
from refiner_http.policy import HttpPolicy
from refiner_http.redact import Redactor

__all__ = [
    "DEFAULT_API_URL",
    "HttpPolicy",
    "KeyedPacer",
    "Pacer",
    "PagingError",
    "Redactor",
    "RefinerApiError",
    "RefinerAuthError",
    "RefinerClient",
    "RefinerEndpointError",
    "RefinerError",
    "RefinerRateLimitedError",
    "RefinerTransientError",
    "RefinerUnreachableError",
]
