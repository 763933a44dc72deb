"""Settings every Refiner plugin shares: where the API is, the key, and how hard to push it.

Declared once so the tap and the target describe, default and validate them identically, and
build their ``HttpPolicy`` the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th

from refiner_http.client import DEFAULT_API_URL, DEFAULT_TIMEOUT
from refiner_http.policy import DEFAULT_MAX_TRIES, HttpPolicy
from refiner_http.redact import Redactor

if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping

KEY_LIMIT_PER_MINUTE = 4000  # refiner-api.md §1.3
USER_LIMIT_PER_MINUTE = 100

API_KEY = th.Property(
    "api_key",
    th.StringType,
    required=True,
    secret=True,
    description=(
        "Refiner REST API key (Refiner > Integrations > REST API). Sent only in the "
        "`Authorization: Bearer` header; masked in logs, errors and files."
    ),
)
API_URL = th.Property(
    "api_url",
    th.StringType,
    default=DEFAULT_API_URL,
    description="Base URL of the Refiner API, including the version path (the emulator's for "
    "tests and the demo).",
)
REQUEST_TIMEOUT = th.Property(
    "request_timeout",
    th.IntegerType(minimum=1),
    default=int(DEFAULT_TIMEOUT),
    description="Seconds to wait for one HTTP answer before retrying.",
)
MAX_REQUESTS_PER_MINUTE = th.Property(
    "max_requests_per_minute",
    th.IntegerType(minimum=1),
    default=KEY_LIMIT_PER_MINUTE,
    description="Client-side pace for all requests with this key (Refiner allows 4000/min per "
    "key); paced 2% under it so no 60-second window exceeds it.",
)
MAX_TRIES = th.Property(
    "max_tries",
    th.IntegerType(minimum=1),
    default=DEFAULT_MAX_TRIES,
    description="Attempts per request on 429 (honouring Retry-After), 5xx, timeouts and "
    "connection resets before the run stops.",
)

CONNECTION_SETTINGS = (API_KEY, API_URL, REQUEST_TIMEOUT, MAX_REQUESTS_PER_MINUTE, MAX_TRIES)


def policy_from_config(
    config: Mapping[str, Any], *, log: logging.Logger, redactor: Redactor | None = None
) -> HttpPolicy:
    """The run's one ``HttpPolicy``, from the shared settings (and the target's per-user one)."""
    return HttpPolicy(
        max_requests_per_minute=float(
            config.get("max_requests_per_minute") or KEY_LIMIT_PER_MINUTE
        ),
        max_requests_per_user_per_minute=float(
            config.get("max_requests_per_user_per_minute") or USER_LIMIT_PER_MINUTE
        ),
        max_tries=int(config.get("max_tries") or DEFAULT_MAX_TRIES),
        redactor=redactor or Redactor([str(config.get("api_key") or "")]),
        log=log,
    )
