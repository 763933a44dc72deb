"""Settings every Refiner plugin shares: where the API is, the key, and how hard to push it.

Declared once so the tap and the target describe, default and validate them identically, and
build their ``HttpPolicy`` the same way. Each default is written once, in its ``Property``, and
read back with :func:`setting`.

One validation style for both plugins: the SDK checks the JSON schema first; then plain
functions return messages that name the setting (never a secret's value), and the plugin raises
them together with :func:`raise_if_invalid`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from refiner_http.client import DEFAULT_API_URL, DEFAULT_TIMEOUT
from refiner_http.pg_schedule import open_postgres_schedule
from refiner_http.policy import (
    DEFAULT_MAX_TRIES,
    KEY_LIMIT_PER_MINUTE,
    USER_LIMIT_PER_MINUTE,
    HttpPolicy,
)
from refiner_http.redact import Redactor
from refiner_http.schedule import Schedule, schedule_for
from refiner_stores.location import is_postgres, url_password
from refiner_stores.postgres import driver_missing

if TYPE_CHECKING:
    import logging
    from collections.abc import Iterable, Mapping


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


def count_setting(name: str, default: int, description: str) -> th.Property:
    """A whole number of at least 1 with a default: tries, seconds, requests, workers."""
    return th.Property(name, th.IntegerType(minimum=1), default=default, description=description)


REQUEST_TIMEOUT = count_setting(
    "request_timeout",
    int(DEFAULT_TIMEOUT),
    "Seconds to wait for one HTTP answer before retrying.",
)
MAX_REQUESTS_PER_MINUTE = count_setting(
    "max_requests_per_minute",
    KEY_LIMIT_PER_MINUTE,
    "Client-side pace for all requests with this key (Refiner allows 4000/min per "
    "key); paced 2% under it so no 60-second window exceeds it.",
)
MAX_TRIES = count_setting(
    "max_tries",
    DEFAULT_MAX_TRIES,
    "Attempts per request on 429 (honouring Retry-After), 5xx, timeouts and "
    "connection resets before the run stops.",
)
#: Declared by the target only (the tap makes no per-user calls), read here by the policy.
MAX_REQUESTS_PER_USER_PER_MINUTE = th.Property(
    "max_requests_per_user_per_minute",
    th.NumberType(exclusive_minimum=0),
    default=USER_LIMIT_PER_MINUTE,
    description="Pacing per user id or email (Refiner allows 100/min per user).",
)

PACING_DIR = th.Property(
    "pacing_dir",
    th.StringType,
    description="Folder of the pacing schedule shared by every tap-refiner, target-refiner and "
    "refiner-api process on this machine that uses this `api_url` and `api_key`, so together "
    "they stay under Refiner's limits (one small SQLite file named by a hash, never the key). "
    "Default: `$REFINER_PACING_DIR`, else `$XDG_CACHE_HOME/refiner-singer/pacing` "
    "(`~/.cache/...`); a folder that cannot be used means pacing within the process (one "
    "WARNING). Several machines on one key: set `pacing_url` instead.",
)
PACING_URL = th.Property(
    "pacing_url",
    th.StringType,
    secret=True,
    description="PostgreSQL URL (`postgresql://user:password@host:5432/db`; `postgresql://` "
    "alone reads the libpq variables PGHOST, PGUSER, PGPASSWORD, ...) of a pacing schedule "
    "shared by every process on every machine that uses it with this `api_url` and "
    "`api_key`: the per-key and per-user budgets hold across containers and runners, slots "
    "booked on the database's clock (table `refiner_pacing`). Needs the `postgres` extra. "
    "Unset: the per-machine file of `pacing_dir`.",
)

CONNECTION_SETTINGS = (
    API_KEY,
    API_URL,
    REQUEST_TIMEOUT,
    MAX_REQUESTS_PER_MINUTE,
    MAX_TRIES,
    PACING_DIR,
    PACING_URL,
)


def setting(config: Mapping[str, Any], prop: th.Property) -> Any:  # noqa: ANN401 - any setting
    """The configured value, or the declared default when the setting is unset, null or empty.

    The SDK fills in unset settings from the schema; an explicit ``null`` (or ``""``) lands here.
    """
    return config.get(prop.name) or prop.default


def positive_number_errors(config: Mapping[str, Any], props: Iterable[th.Property]) -> list[str]:
    """Each of ``props`` that is set but not a positive number (null means its default)."""
    errors = []
    for prop in props:
        value = config.get(prop.name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) or value <= 0
        ):
            errors.append(f"Setting `{prop.name}` must be a positive number, got {value!r}.")
    return errors


def connection_errors(config: Mapping[str, Any]) -> list[str]:
    """What both plugins check on the shared settings beyond JSON schema."""
    errors = positive_number_errors(config, (REQUEST_TIMEOUT, MAX_REQUESTS_PER_MINUTE, MAX_TRIES))
    pacing_url = config.get(PACING_URL.name)
    if pacing_url and not is_postgres(pacing_url):
        errors.append("Setting `pacing_url` must be a PostgreSQL URL (postgresql://...).")
    return errors + store_url_errors(config, (PACING_URL,))


def store_url_errors(config: Mapping[str, Any], props: Iterable[th.Property]) -> list[str]:
    """Each of ``props`` set to a PostgreSQL URL while the driver (the extra) is missing."""
    return [
        message
        for prop in props
        if is_postgres(config.get(prop.name))
        and (message := driver_missing(f"Setting `{prop.name}`"))
    ]


def store_secrets(config: Mapping[str, Any]) -> list[str]:
    """The API key and every password a store URL setting carries: what logs must mask."""
    passwords = (url_password(value) for value in config.values() if isinstance(value, str))
    return [str(config.get("api_key") or ""), *(p for p in passwords if p)]


def api_url_errors(config: Mapping[str, Any]) -> list[str]:
    """``api_url`` must be an http(s) URL (unset or empty: the default)."""
    if str(setting(config, API_URL)).startswith(("http://", "https://")):
        return []
    return ["Setting `api_url` must be an http(s) URL such as " + DEFAULT_API_URL]


def api_key_errors(config: Mapping[str, Any]) -> list[str]:
    """``api_key`` must be a non-blank string (the target checks it before its key check)."""
    api_key = config.get("api_key")
    if isinstance(api_key, str) and api_key.strip():
        return []
    return ["Setting `api_key` is required (the Refiner REST API key)."]


def raise_if_invalid(errors: list[str]) -> None:
    """Raise every problem found as one ``ConfigValidationError``, as the SDK does for schema."""
    if errors:
        summary = "Config validation failed"
        raise ConfigValidationError(summary, errors=errors)


def policy_from_config(
    config: Mapping[str, Any], *, log: logging.Logger, redactor: Redactor | None = None
) -> HttpPolicy:
    """The run's one ``HttpPolicy``, from the shared settings (and the target's per-user one).

    Raises ``refiner_stores.StoreError`` when ``pacing_url`` cannot be opened.
    """
    return HttpPolicy(
        max_requests_per_minute=float(setting(config, MAX_REQUESTS_PER_MINUTE)),
        max_requests_per_user_per_minute=float(setting(config, MAX_REQUESTS_PER_USER_PER_MINUTE)),
        max_tries=int(setting(config, MAX_TRIES)),
        redactor=redactor or Redactor(store_secrets(config)),
        log=log,
        schedule=schedule_from_config(config, log=log),
    )


def schedule_from_config(config: Mapping[str, Any], *, log: logging.Logger) -> Schedule:
    """Where slots are booked: ``pacing_url``'s database, else the file in ``pacing_dir``."""
    api_url, api_key = str(setting(config, API_URL)), str(config.get("api_key") or "")
    pacing_url = config.get(PACING_URL.name)
    if pacing_url:
        return open_postgres_schedule(str(pacing_url), api_url, api_key)
    return schedule_for(config.get(PACING_DIR.name), api_url, api_key, log=log)
