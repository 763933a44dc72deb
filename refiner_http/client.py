"""A small Refiner API client on the shared policy, for the target and ``refiner-api``.

The tap uses the same ``HttpPolicy`` through singer-sdk's RESTStream instead (see
``tap_refiner.client``), so paging and retries behave identically everywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from refiner_http.errors import RefinerEndpointError
from refiner_http.page_reader import iterate_items
from refiner_http.policy import HttpPolicy
from refiner_http.redact import Redactor

if TYPE_CHECKING:
    import logging
    from collections.abc import Iterator, Mapping

    from typing_extensions import Self  # only for annotations: typing.Self needs 3.11

DEFAULT_API_URL = "https://api.refiner.io/v1"
DEFAULT_TIMEOUT = 60.0
USER_AGENT = "refiner-singer/0.1 (+https://github.com/refiner-singer)"


@dataclass(frozen=True)
class KeyCheck:
    """What Refiner's key check says the key belongs to.

    ``project_uuid`` is documented by one source (refiner-api.md §1.1), so it may be None.
    """

    project_uuid: str | None
    project_name: str | None


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


class BearerAuth(requests.auth.AuthBase):
    """Sends the key only in the ``Authorization`` header, never in a URL or body."""

    def __init__(self, api_key: str) -> None:
        """Remember the key; ``repr`` never shows it."""
        self._api_key = api_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the header."""
        request.headers["Authorization"] = f"Bearer {self._api_key}"
        return request

    def __repr__(self) -> str:
        """Never print the key."""
        return "BearerAuth(***)"


def resolve_url(api_url: str, path: str) -> str:
    """Join ``path`` to ``api_url``; a path starting with ``/v1`` is taken from the API host.

    Make users type ``/v1/contacts``; our settings say ``api_url=https://api.refiner.io/v1``.
    Both ``/v1/contacts`` and ``contacts`` (or ``/contacts``) end up at the same URL.
    """
    if path.startswith(("http://", "https://")):
        return path
    base = api_url.rstrip("/")
    version = base.rsplit("/", 1)[-1]
    clean = "/" + path.lstrip("/")
    if clean == f"/{version}" or clean.startswith(f"/{version}/"):
        clean = clean[len(version) + 1 :]
    return base + clean


def new_session(pool_size: int = 10) -> requests.Session:
    """A session with a connection pool large enough for our concurrency."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    return session


class RefinerClient:
    """Authenticated, paced, retrying calls to one Refiner environment."""

    def __init__(  # noqa: PLR0913 - each knob is a documented setting
        self,
        api_key: str,
        api_url: str = DEFAULT_API_URL,
        *,
        policy: HttpPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        pool_size: int = 10,
        log: logging.Logger | None = None,
    ) -> None:
        """Build the session and register the key with the redactor."""
        if not api_key:
            msg = "Setting `api_key` is required (the Refiner REST API key)."
            raise ValueError(msg)
        self.api_url = api_url.rstrip("/")
        self.policy = policy or HttpPolicy(redactor=Redactor([api_key]), log=log)
        self.policy.redactor.add(api_key)
        self.timeout = timeout
        self.session = new_session(pool_size)
        self.session.auth = BearerAuth(api_key)

    def send(  # noqa: PLR0913 - mirrors requests' keyword arguments
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,  # noqa: ANN401 - any JSON value
        headers: Mapping[str, str] | None = None,
        user_key: str | None = None,
        user_slot_booked: bool = False,
    ) -> requests.Response:
        """One logical call: paced, retried, and checked. Returns the 2xx response.

        ``user_slot_booked``: the caller booked ``user_key``'s slot for the first attempt
        (``KeyedPacer.reserve``) and waited for it; retries book their own.
        """
        url = resolve_url(self.api_url, path)

        def once() -> requests.Response:
            response = self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                headers=dict(headers or {}),
                timeout=self.timeout,
            )
            self.policy.check(response, user_key=user_key)
            return response

        return self.policy.retrying(once, user_key=user_key, user_slot_booked=user_slot_booked)()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,  # noqa: ANN401 - any JSON value
        user_key: str | None = None,
    ) -> Any:  # noqa: ANN401 - the API's JSON
        """Like ``send`` but returns the decoded JSON body (or ``None`` when empty)."""
        response = self.send(method, path, params=params, json_body=json_body, user_key=user_key)
        if not response.content:
            return None
        try:
            return response.json()
        except json.JSONDecodeError:
            return response.text

    def check_api(self) -> KeyCheck:
        """``GET {api_url}/``, Refiner's key check: proves the key and that the URL is Refiner.

        A wrong key raises ``RefinerAuthError``; a URL that is not the Refiner API (no ``/v1``,
        a proxy's page, another service) raises ``RefinerEndpointError``, so a run stops before
        it reads any input instead of reporting success with nothing applied.
        """
        body = self.request("GET", "/")
        if not isinstance(body, dict) or not ({"project_uuid", "message"} & set(body)):
            shown = self.policy.redactor(repr(body)[:80])
            msg = f"did not answer like Refiner's key check (got {shown})"
            raise RefinerEndpointError(200, msg, method="GET", path=urlsplit(self.api_url).path)
        return KeyCheck(_text(body.get("project_uuid")), _text(body.get("project_name")))

    def paginate(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_length: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Yield every item of a list endpoint, following ``next_page_cursor``.

        Falls back to ``page`` numbers when the API gives no cursor but says there are more
        pages (``current_page < last_page``), so both documented paging styles work.
        """
        query: dict[str, Any] = {**(params or {}), "page_length": page_length}
        return iterate_items(
            lambda page: self.request("GET", path, params=page),
            query,
            path,
            self.policy.log.warning,
        )

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()

    def __enter__(self) -> Self:
        """Use as a context manager to close the session."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the session."""
        self.close()
