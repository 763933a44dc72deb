"""Error types for Refiner API calls, classified by what a caller should do next."""

from __future__ import annotations

from typing import Any

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
