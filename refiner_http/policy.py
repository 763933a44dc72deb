"""Retry and pacing policy: what to do with each answer, and how long to wait before trying again.

- 2xx: done.
- 429: wait what ``Retry-After`` says (plus a little jitter), hold the pacers, retry.
- 5xx, timeouts, connection resets: exponential backoff with jitter, bounded tries.
- 401, and the unknown-key answer (404, or 400 in some sources): ``RefinerAuthError``, no retry.
- A 4xx about the data sent (400, 409, 413, 422, or a 404 whose JSON message says the contact,
  segment, form or response does not exist): ``RefinerApiError`` with the API's own message.
- Any other answer about the endpoint rather than the data (403, 405, a 404 without such a
  message, any body that is not JSON, a 2xx included): ``RefinerEndpointError``: the caller
  must stop, because every later call would fail the same way (a wrong ``api_url``, a proxy).

Waiting goes through ``backoff`` (``time.sleep``), so tests patch time instead of sleeping.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import backoff
import requests

from refiner_http.errors import (
    RefinerApiError,
    RefinerAuthError,
    RefinerEndpointError,
    RefinerRateLimitedError,
    RefinerTransientError,
    RefinerUnreachableError,
    unreachable_text,
)
from refiner_http.pacing import Clock, KeyedPacer, Pacer, Sleep, patchable_sleep
from refiner_http.redact import Redactor
from refiner_http.schedule import LocalSchedule, Schedule

if TYPE_CHECKING:
    from collections.abc import Callable, Generator

T = TypeVar("T")

UNKNOWN_KEY_MESSAGE = "API key not valid or does not exist"
DEFAULT_MAX_TRIES = 8
KEY_LIMIT_PER_MINUTE = 4000  # refiner-api.md §1.3
USER_LIMIT_PER_MINUTE = 100
DEFAULT_BACKOFF_CAP = 60.0
DEFAULT_RETRY_AFTER = 1.0
MAX_MESSAGE_CHARS = 500
#: 4xx statuses that can be about the data of one call (anything else is about the endpoint).
ROW_STATUSES = frozenset({400, 404, 409, 413, 422})
#: A 404 is about the data only when Refiner says what it could not find.
_ENTITY_NOT_FOUND = re.compile(
    r"\b(contact|segment|form|survey|response|user|account)s?\b.*\b(not found|does not exist)",
    re.IGNORECASE,
)

RETRYABLE_EXCEPTIONS: tuple[type[Exception], ...] = (
    RefinerTransientError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    ConnectionResetError,
)
#: The retryable failures that got no answer at all (the rest are answers: 429 and 5xx).
NETWORK_EXCEPTIONS = tuple(e for e in RETRYABLE_EXCEPTIONS if e is not RefinerTransientError)

logger = logging.getLogger("refiner_http")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


def api_message(response: requests.Response) -> str:
    """The API's own error text: the ``error`` or ``message`` key, else the body's start."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error", "message"):
            if isinstance(body.get(key), str):
                return str(body[key])
    text = response.text.strip()
    return text[:MAX_MESSAGE_CHARS] if text else response.reason or "no message"


def _looks_like_json(response: requests.Response) -> bool:
    """True for an empty body or JSON (checked by content type first: no second parse)."""
    if not response.content:
        return True
    if "json" in (response.headers.get("Content-Type") or "").lower():
        return True
    try:
        response.json()
    except ValueError:
        return False
    return True


class HttpPolicy:
    """Pacing + classification + retries, shared by every client of the Refiner API."""

    def __init__(  # noqa: PLR0913 - each knob is a documented setting
        self,
        *,
        max_requests_per_minute: float = KEY_LIMIT_PER_MINUTE,
        max_requests_per_user_per_minute: float = USER_LIMIT_PER_MINUTE,
        max_tries: int = DEFAULT_MAX_TRIES,
        backoff_cap: float = DEFAULT_BACKOFF_CAP,
        redactor: Redactor | None = None,
        clock: Clock | None = None,
        sleep: Sleep = patchable_sleep,
        log: logging.Logger | None = None,
        schedule: Schedule | None = None,
    ) -> None:
        """Build the pacers on ``schedule`` (this process's own by default).

        ``clock``/``sleep`` are injectable for tests of pacing; the clock defaults to the
        schedule's (a shared file needs the wall clock every process agrees on).
        """
        schedule = schedule if schedule is not None else LocalSchedule()
        clock = clock or schedule.clock
        self.key_pacer = Pacer(max_requests_per_minute, clock=clock, sleep=sleep, schedule=schedule)
        self.user_pacer = KeyedPacer(
            max_requests_per_user_per_minute, clock=clock, sleep=sleep, schedule=schedule
        )
        self.max_tries = max_tries
        self.backoff_cap = backoff_cap
        self.redactor = redactor or Redactor()
        self.log = log or logger
        self._clock = clock
        self._sleep = sleep

    # -- pacing ---------------------------------------------------------------------------
    def pace(self, user_key: str | None = None, *, user_slot_booked: bool = False) -> None:
        """Wait for the user's slot (if any, and not booked already), then for the key's slot."""
        if user_key and not user_slot_booked:
            self.user_pacer.acquire(user_key)
        self.key_pacer.acquire()

    # -- classification -------------------------------------------------------------------
    def check(self, response: requests.Response, *, user_key: str | None = None) -> None:
        """Raise the error type that says what to do with an answer (see the module doc)."""
        status = response.status_code
        if status < HTTPStatus.BAD_REQUEST:
            if status >= HTTPStatus.OK and not _looks_like_json(response):
                raise self._endpoint_error(response, "a body that is not JSON")
            return
        method = response.request.method or "" if response.request is not None else ""
        path = urlsplit(response.url).path
        message = self.redactor(api_message(response))
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            self.key_pacer.hold(wait)
            if user_key:
                self.user_pacer.hold(user_key, wait)
            raise RefinerRateLimitedError(wait, message, method=method, path=path)
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RefinerTransientError(status, message, method=method, path=path)
        if status == HTTPStatus.UNAUTHORIZED or (
            status in {HTTPStatus.BAD_REQUEST, HTTPStatus.NOT_FOUND}
            and UNKNOWN_KEY_MESSAGE.lower() in message.lower()
        ):
            raise RefinerAuthError(status, message, method=method, path=path)
        try:
            body: Any = response.json()
        except ValueError:
            raise self._endpoint_error(response, "a body that is not JSON") from None
        about_data = status in ROW_STATUSES and isinstance(body, dict)
        if status == HTTPStatus.NOT_FOUND and not _ENTITY_NOT_FOUND.search(message):
            about_data = False
        if not about_data:
            raise RefinerEndpointError(status, message, method=method, path=path)
        raise RefinerApiError(status, message, method=method, path=path, body=body)

    def _endpoint_error(self, response: requests.Response, what: str) -> RefinerEndpointError:
        method = response.request.method or "" if response.request is not None else ""
        kind = response.headers.get("Content-Type") or "no content type"
        start = self.redactor(response.text[:80].strip()) or "(empty)"
        return RefinerEndpointError(
            response.status_code,
            f"{what} ({kind}), starting {start!r}",
            method=method,
            path=urlsplit(response.url).path,
        )

    # -- retrying -------------------------------------------------------------------------
    def wait_generator(self) -> Generator[float, BaseException | None, None]:
        """Backoff wait generator: ``Retry-After`` for 429s, jittered exponential otherwise."""
        exc = yield 0.0  # primed by backoff with send(None)
        attempt = 0
        while True:
            attempt += 1
            if isinstance(exc, RefinerRateLimitedError):
                wait = exc.retry_after + random.uniform(0, 0.1 * max(exc.retry_after, 1.0))  # noqa: S311
            else:
                ceiling = min(self.backoff_cap, 2.0 ** (attempt - 1))
                wait = ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311
            exc = yield wait

    def retrying(
        self, func: Callable[..., T], *, user_key: str | None = None, user_slot_booked: bool = False
    ) -> Callable[..., T]:
        """Wrap one attempt (``func``) with pacing before it and retries after it.

        ``user_slot_booked``: the first attempt's user slot is booked already (by the caller).
        When every try got no answer, the error raised is ``RefinerUnreachableError``: one
        sentence of ours for the caller to show (nothing is logged at that point, so a stop is
        one line). A 429 or 5xx still failing is raised as it was answered.
        """
        booked = [user_slot_booked]

        def attempt(*args: Any, **kwargs: Any) -> T:  # noqa: ANN401
            self.pace(user_key, user_slot_booked=booked.pop() if booked else False)
            return func(*args, **kwargs)

        retried = backoff.on_exception(
            self.wait_generator,
            RETRYABLE_EXCEPTIONS,
            max_tries=self.max_tries,
            giveup=lambda exc: isinstance(exc, RefinerUnreachableError),  # already given up
            jitter=None,
            on_backoff=self._log_backoff,
            logger=None,
        )(attempt)

        def call(*args: Any, **kwargs: Any) -> T:  # noqa: ANN401
            try:
                return retried(*args, **kwargs)
            except RefinerUnreachableError:
                raise
            except NETWORK_EXCEPTIONS as exc:
                raise self.unreachable(exc) from None

        return call

    def unreachable(self, exc: BaseException) -> RefinerUnreachableError:
        """The error for a call that got no answer in ``max_tries`` tries, named in words."""
        tries = f"{self.max_tries} tries" if self.max_tries != 1 else "1 try"
        text = f"{unreachable_text(exc)}; gave up after {tries} (setting `max_tries`)."
        return RefinerUnreachableError(self.redactor(text), request=getattr(exc, "request", None))

    def gave_up(self, exc: BaseException) -> str:
        """The sentence for a call that failed every try (callers stop with it)."""
        if isinstance(exc, RefinerUnreachableError):
            return str(exc)
        return self.redactor(
            f"Refiner still failing after {self.max_tries} tries (setting `max_tries`): {exc}"
        )

    def _log_backoff(self, details: Any) -> None:  # noqa: ANN401 - backoff's Details dict
        exc = details.get("exception")
        reason = unreachable_text(exc) if isinstance(exc, NETWORK_EXCEPTIONS) else str(exc)
        self.log.warning(
            "Retrying in %.1fs (try %d of %d) after: %s",
            details.get("wait", 0.0),
            details.get("tries", 0),
            self.max_tries,
            self.redactor(reason),
        )
