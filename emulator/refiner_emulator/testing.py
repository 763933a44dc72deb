"""Run the emulator as a real subprocess for tests and benchmarks, and talk to it from tests.

:class:`EmulatorProcess` starts ``python -m refiner_emulator --port 0`` (the announced line
tells the real port; stderr goes to a temporary file, as a pipe nobody reads would eventually
block the server) and reads and steers it through the private ``/_emulator`` routes.
:class:`EmulatorClient` (``emu.api``) is the one way tests call its API as a client would:
the Bearer key, paths like ``/contacts``, every item of a listing, the raw answer of a private
route.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, TypedDict

import requests

from refiner_emulator.webhooks import MAX_ATTEMPTS
from refiner_serving.process import ServerProcess, ServerStartError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from typing_extensions import Self, Unpack

READY_PREFIX = "Refiner emulator listening on "
HELPER_TIMEOUT = 10.0
API_TIMEOUT = 15.0
MAX_PAGE_LENGTH = 1000


class EmulatorError(ServerStartError):
    """The emulator did not start, or a helper was called while it is not running."""


class EmulatorProcess(ServerProcess):
    """``with EmulatorProcess("--contacts", "300") as emu: emu.api.ok("GET", "/contacts")``."""

    def __init__(
        self,
        *args: str,
        api_key: str = "demo-key",
        timeout: float = 30.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        """``args`` are passed to ``python -m refiner_emulator`` after ``--port 0``."""
        self.args = [*args, *extra_args]
        self.api_key = api_key
        key_args = [] if "--api-key" in self.args else ["--api-key", api_key]
        super().__init__(
            "refiner_emulator",
            ["--port", "0", "--quiet", *key_args, *self.args],
            ready_prefix=READY_PREFIX,
            timeout=timeout,
        )
        self.base_url = ""
        self.api_url = ""
        self._session: requests.Session | None = None
        self._api: EmulatorClient | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        """Start the subprocess and wait for its listening line."""
        try:
            super().start()
        except ServerStartError as exc:
            raise EmulatorError(str(exc)) from None
        self.api_url = self.url
        self.base_url = self.api_url.removesuffix("/v1")
        self._session = requests.Session()
        self._api = EmulatorClient(self)
        return self

    def stop(self) -> int | None:
        """Terminate (then kill) the subprocess and release its pipes and the session."""
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._api is not None:
            self._api.close()
            self._api = None
        return super().stop()

    @property
    def api(self) -> EmulatorClient:
        """The emulator's API as a client calls it (one session, closed on stop)."""
        if self._api is None:
            msg = "emulator is not running"
            raise EmulatorError(msg)
        return self._api

    # ------------------------------------------------------------------ private routes
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:  # noqa: ANN401 - JSON
        if self._session is None:
            msg = "emulator is not running"
            raise EmulatorError(msg)
        with self._session.request(
            method, self.base_url + path, timeout=HELPER_TIMEOUT, **kwargs
        ) as reply:
            reply.raise_for_status()
            return reply.json()

    def calls(self, path: str | None = None, since_seq: int | None = None) -> list[dict[str, Any]]:
        """Logged API calls, optionally for one path and after a sequence number."""
        params: dict[str, Any] = {}
        if path is not None:
            params["path"] = path
        if since_seq is not None:
            params["since_seq"] = since_seq
        return list(self._call("GET", "/_emulator/calls", params=params)["calls"])

    def stats(self) -> dict[str, Any]:
        """Request counters and data sizes."""
        return dict(self._call("GET", "/_emulator/stats"))

    def reset(self, *, data: bool = False, config: bool = False) -> dict[str, Any]:
        """Clear calls, counters, faults, rate windows; optionally re-seed and restore config."""
        return dict(self._call("POST", "/_emulator/reset", json={"data": data, "config": config}))

    def configure(self, **options: Any) -> dict[str, Any]:  # noqa: ANN401 - option values
        """Change runtime options; returns the effective config."""
        return dict(self._call("POST", "/_emulator/config", json=options))

    def config(self) -> dict[str, Any]:
        """The effective runtime options."""
        return dict(self._call("GET", "/_emulator/config"))

    def fault(  # noqa: PLR0913 - the fault's documented fields
        self,
        status: int,
        count: int = 1,
        *,
        retry_after: int | None = None,
        path: str | None = None,
        body: Any = None,  # noqa: ANN401 - any JSON body
        kind: str = "status",
        seconds: float = 5.0,
    ) -> dict[str, Any]:
        """Make the next ``count`` matching API requests fail with ``status``.

        ``kind="timeout"`` hangs each for ``seconds``; ``kind="reset"`` cuts the connection.
        """
        spec: dict[str, Any] = {"status": status, "count": count, "kind": kind}
        if kind == "timeout":
            spec["seconds"] = seconds
        if retry_after is not None:
            spec["retry_after"] = retry_after
        if path is not None:
            spec["path"] = path
        if body is not None:
            spec["body"] = body
        return dict(self._call("POST", "/_emulator/faults", json=spec))

    def add_segment(self, name: str, *, manual: bool = True) -> str:
        """Make a segment as the dashboard would (empty); returns its uuid."""
        body = self._call("POST", "/_emulator/segments", json={"name": name, "is_manual": manual})
        return str(body["uuid"])

    def events(self) -> list[dict[str, Any]]:
        """Tracked events, oldest first."""
        return list(self._call("GET", "/_emulator/events")["events"])

    def contact(self, remote_id: str) -> dict[str, Any] | None:
        """The stored contact with ``identify_count``; None if unknown."""
        if self._session is None:
            msg = "emulator is not running"
            raise EmulatorError(msg)
        with self._session.get(
            f"{self.base_url}/_emulator/contacts/{remote_id}", timeout=HELPER_TIMEOUT
        ) as reply:
            if reply.status_code == 404:  # noqa: PLR2004 - not found
                return None
            reply.raise_for_status()
            return dict(reply.json())

    def webhooks(self) -> list[dict[str, Any]]:
        """Webhook delivery log."""
        return list(self._call("GET", "/_emulator/webhooks")["deliveries"])

    def wait_for_webhooks(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Poll until ``count`` deliveries have finished (delivered or out of attempts)."""
        deadline = time.monotonic() + timeout
        while True:
            done = [d for d in self.webhooks() if d["delivered"] or d["attempts"] >= MAX_ATTEMPTS]
            if len(done) >= count or time.monotonic() > deadline:
                return done
            time.sleep(0.05)


class RequestOptions(TypedDict, total=False):
    """What a test passes on to requests with a call: query, body and extra headers."""

    params: Any
    json: Any
    data: Any
    headers: dict[str, str]


class EmulatorClient:
    """The emulator's API as tests call it: ``emu.api.ok("GET", "/contacts")``.

    Bearer auth with the emulator's key and paths relative to ``api_url``; ``emu`` is the
    process, for its ``/_emulator`` helpers. ``EmulatorProcess`` makes one on start and closes
    it on stop.
    """

    def __init__(self, emu: EmulatorProcess) -> None:
        """A session carrying the emulator's key."""
        self.emu = emu
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {emu.api_key}"

    def request(
        self, method: str, path: str, **options: Unpack[RequestOptions]
    ) -> requests.Response:
        """The raw answer to ``METHOD api_url+path``."""
        return self.session.request(method, self.emu.api_url + path, timeout=API_TIMEOUT, **options)

    def get(self, path: str, **options: Unpack[RequestOptions]) -> requests.Response:
        """``GET``, raw."""
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Unpack[RequestOptions]) -> requests.Response:
        """``POST``, raw."""
        return self.request("POST", path, **options)

    def delete(self, path: str, **options: Unpack[RequestOptions]) -> requests.Response:
        """``DELETE``, raw."""
        return self.request("DELETE", path, **options)

    def ok(self, method: str, path: str, **options: Unpack[RequestOptions]) -> dict[str, Any]:
        """The JSON body of an answer that must be 200 (else the error names call and body)."""
        reply = self.request(method, path, **options)
        if reply.status_code != requests.codes.ok:
            msg = f"{method} {path}: {reply.status_code} {reply.text}"
            raise EmulatorError(msg)
        body: dict[str, Any] = reply.json()
        return body

    def items(self, path: str, **params: str | int) -> list[dict[str, Any]]:
        """Every item of a listing, following cursors (sent with the query they belong to)."""
        found: list[dict[str, Any]] = []
        query: dict[str, str | int] = {"page_length": MAX_PAGE_LENGTH, **params}
        while True:
            body = self.ok("GET", path, params=query)
            found.extend(body["items"])
            cursor = body["pagination"].get("next_page_cursor")
            if not cursor:
                return found
            query = {**query, "page_cursor": cursor}

    def control(
        self, method: str, path: str, **options: Unpack[RequestOptions]
    ) -> requests.Response:
        """The raw answer of a private route, ``/_emulator`` + ``path`` (they need no key)."""
        url = f"{self.emu.base_url}/_emulator{path}"
        return requests.request(method, url, timeout=HELPER_TIMEOUT, **options)

    def close(self) -> None:
        """Release the session's connections."""
        self.session.close()
