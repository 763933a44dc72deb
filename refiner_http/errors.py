"""Error types for Refiner API calls, classified by what a caller should do next."""

from __future__ import annotations

import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import requests

AUTH_HINT = (
    "Check the `api_key` setting: copy the key from Refiner under Integrations > REST API, "
    "and make sure `api_url` points at the environment the key belongs to."
)

ENDPOINT_HINT = (
    "This answer is about the endpoint, not the data sent: check that `api_url` is the Refiner "
    "API base including the version (https://api.refiner.io/v1) and that no proxy answers "
    "instead of Refiner"
)


class RefinerError(Exception):
    """Base class of every error raised by the Refiner HTTP policy."""


class RefinerApiError(RefinerError):
    """The API answered with a status that retrying will not fix (a 4xx other than 429).

    ``message`` is the API's own text (``error`` or ``message`` key of the body).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        method: str = "",
        path: str = "",
        body: Any = None,  # noqa: ANN401 - whatever JSON (or text) the API answered
    ) -> None:
        """Keep the status, the API's message and where it happened."""
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        self.body = body
        where = f" for {method} {path}" if method or path else ""
        super().__init__(f"Refiner API answered {status}{where}: {message}")


class RefinerAuthError(RefinerApiError):
    """The API key is missing, malformed or unknown: stop at once, retrying cannot help."""

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        """Add the hint that tells the user what to fix."""
        super().__init__(status, message, method=method, path=path)
        self.args = (f"{self.args[0]}. {AUTH_HINT}",)


class RefinerEndpointError(RefinerApiError):
    """The answer is about the endpoint, not the request's data: stop the run, never skip a row.

    A route that does not exist (404 without a Refiner "not found" message for the thing the
    call names), 403/405, or a body that is not JSON: a wrong ``api_url``, a proxy or a removed
    route. Dead-lettering rows for it would report success while nothing reached Refiner.
    """

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        """Add the hint that tells the user what to check."""
        super().__init__(status, message, method=method, path=path)
        self.args = (f"{self.args[0]}. {ENDPOINT_HINT}",)


class PagingError(RefinerError):
    """The API's paging went wrong (a cursor loop, endless empty pages): stop, do not skip."""


class ShortListingError(PagingError):
    """A listing ended with fewer items than its pages' ``items_count`` said, beyond churn.

    The API answered a plain 200 without a next page, so nothing else marks the listing as
    partial; taking it for the whole table would lose the rest silently.
    """

    def __init__(self, message: str, *, endpoint: str, read: int, expected: int) -> None:
        """Keep what was read and what the API said there is."""
        super().__init__(message)
        self.endpoint = endpoint
        self.read = read
        self.expected = expected


class RefinerTransientError(RefinerError):
    """A 5xx answer: worth retrying with exponential backoff."""

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        """Keep the status so handlers can log it."""
        self.status = status
        super().__init__(f"Refiner API answered {status} for {method} {path}: {message}")


class RefinerRateLimitedError(RefinerTransientError):
    """A 429 answer: retry after the ``Retry-After`` the API asked for."""

    def __init__(
        self, retry_after: float, message: str, *, method: str = "", path: str = ""
    ) -> None:
        """Keep how long the API asked us to wait."""
        super().__init__(429, message, method=method, path=path)
        self.retry_after = retry_after


class RefinerUnreachableError(RefinerError, requests.exceptions.ConnectionError):
    """No answer in any try (refused, unknown host, timeouts, cut connections): one sentence.

    Still a ``requests`` ``ConnectionError``, so code that handles network failures handles it;
    the message is ours (``unreachable_text``), not urllib3's "Max retries exceeded ...".
    """


#: The cause of a network failure in words, by the first matching exception in its chain.
_NETWORK_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (socket.gaierror, "host name not found"),  # inside urllib3 2's NameResolutionError too
    (requests.exceptions.ConnectTimeout, "no connection within `request_timeout`"),
    (requests.exceptions.ReadTimeout, "no answer within `request_timeout`"),
    (ssl.SSLError, "TLS handshake failed"),
    (ConnectionResetError, "connection reset"),
    (requests.exceptions.ChunkedEncodingError, "the answer was cut off"),
    (requests.exceptions.ContentDecodingError, "the answer could not be decoded"),
)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps: causes, contexts, urllib3's ``reason`` and exception args."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        inner = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        todo += [e for e in (*inner, *current.args) if isinstance(e, BaseException)]
    return seen


def network_reason(exc: BaseException) -> str:
    """Why a request got no answer, in a few words (``connection refused``)."""
    chain = _chain(exc)
    for kind, words in _NETWORK_REASONS:
        if any(isinstance(e, kind) for e in chain):
            return words
    innermost = chain[-1]
    return str(innermost) or type(innermost).__name__


def unreachable_text(exc: BaseException) -> str:
    """``Could not reach Refiner at http://host:port (GET /v1/contacts): connection refused``.

    Only the scheme, host and path of the request are named: never its query or headers.
    """
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if request is None or not url:
        return f"Could not reach Refiner: {network_reason(exc)}"
    parts = urlsplit(str(url))
    where = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    call = f"{request.method} {parts.path}"
    return f"Could not reach Refiner at {where} ({call}): {network_reason(exc)}"
