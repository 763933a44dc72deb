"""target-refiner's settings: the config JSON schema, the checks beyond it, the frozen Settings.

The SDK validates the JSON schema (and fills in defaults) first; :func:`check_settings` then
returns what a schema cannot say, each message naming the setting, and ``TargetRefiner`` raises
them the way the tap does (``refiner_http.settings.raise_if_invalid``). Only then is
:class:`Settings` built, reading every default back from its ``Property``. The shared connection
settings live in ``refiner_http.settings``, the ``mappings`` setting in ``mapping_settings.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th

from refiner_http.settings import (
    API_URL,
    CONNECTION_SETTINGS,
    MAX_REQUESTS_PER_USER_PER_MINUTE,
    REQUEST_TIMEOUT,
    api_key_errors,
    api_url_errors,
    connection_errors,
    count_setting,
    positive_number_errors,
    setting,
    store_url_errors,
)
from refiner_stores import is_postgres
from target_refiner.mapping_settings import (
    DEFAULT_ACTION,
    MAPPINGS,
    StreamMapping,
    default_mapping,
    mapping_errors,
    parse_mappings,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_STATE_DIR = ".target-refiner"

MAX_CONCURRENCY = count_setting(
    "max_concurrency",
    128,
    "Most calls in flight at once (worker threads). The target keeps as many in flight as "
    "Refiner's observed latency needs to reach `max_requests_per_minute` (rate x latency), "
    "starting at 4; 128 covers 1.5 s per call.",
)
STATE_DIR = th.Property(
    "state_dir",
    th.StringType,
    default=DEFAULT_STATE_DIR,
    description=(
        "Directory of the SQLite ledger (change detection, replay protection): one file per "
        "Refiner project, so a rotated key keeps it."
    ),
)
LEDGER_URL = th.Property(
    "ledger_url",
    th.StringType,
    secret=True,
    description=(
        "PostgreSQL URL (`postgresql://user:password@host:5432/db`; `postgresql://` alone reads "
        "the libpq variables) of the ledger, kept there instead of the SQLite file in "
        "`state_dir`: runners with a fresh disk (CI, containers) and several machines share "
        "it. Tables `refiner_ledger*`, created on first use, rows keyed by the Refiner "
        "project; one writer per project everywhere (a session advisory lock). Needs the "
        "`postgres` extra. Move a SQLite ledger in with "
        "`python -m target_refiner.ledger.to_postgres`."
    ),
)
LEDGER_WAIT_SECONDS = th.Property(
    "ledger_wait_seconds",
    th.IntegerType(minimum=0),
    default=0,
    description=(
        "Only one run may write a ledger (`state_dir` or `ledger_url`, + Refiner project). 0: "
        "a second run "
        "stops at once, naming the holder (pid, host, start time); N: wait up to N "
        "seconds for the holder to finish first."
    ),
)
SYNC_LOG = th.Property(
    "sync_log",
    th.BooleanType,
    default=True,
    description=(
        "Record the sync log in the ledger's database (`state_dir`'s SQLite file, or "
        "`ledger_url`): each run (`refiner_sync_runs`), what became of each row "
        "(`refiner_sync_changelog`) and the latest outcome per row key "
        "(`refiner_sync_snapshot`); tap-refiner's sync-log streams read them."
    ),
)
SYNC_LOG_RETENTION_DAYS = count_setting(
    "sync_log_retention_days",
    30,
    "Days the sync log keeps runs and changelog rows; older ones are deleted at the end of "
    "each run.",
)
MAX_REJECT_RATIO = th.Property(
    "max_reject_ratio",
    th.NumberType(minimum=0, maximum=1),
    description=(
        "Fail the run once rejected rows exceed this share of rows handled (checked from "
        "100 rows on, and at the end). When set, STATE is emitted only at the end, after "
        "the check passes, so a failed run never moves the bookmark. Default: never fail "
        "on rejections."
    ),
)
MAX_REMOVAL_RATIO = th.Property(
    "max_removal_ratio",
    th.NumberType(minimum=0, maximum=1),
    default=0.5,
    description=(
        "mirror_segment: refuse a run that would remove more than this share of a segment's "
        "current members (or every member), before any call; nothing is changed and the run "
        "exits 1."
    ),
)
ALLOW_LARGE_REMOVALS = th.Property(
    "allow_large_removals",
    th.BooleanType,
    default=False,
    description=(
        "mirror_segment: apply removals beyond `max_removal_ratio`, or that empty a segment, "
        "for this run (set it for one run, not in the project's config)."
    ),
)
PROGRESS_INTERVAL_SECONDS = th.Property(
    "progress_interval_seconds",
    th.NumberType(minimum=0),
    default=5,
    description="Seconds between progress lines (0 turns them off).",
)

CONFIG_SCHEMA = th.PropertiesList(
    *CONNECTION_SETTINGS,
    MAPPINGS,
    DEFAULT_ACTION,
    MAX_CONCURRENCY,
    MAX_REQUESTS_PER_USER_PER_MINUTE,
    STATE_DIR,
    LEDGER_URL,
    LEDGER_WAIT_SECONDS,
    SYNC_LOG,
    SYNC_LOG_RETENTION_DAYS,
    th.Property(
        "dead_letter_path",
        th.StringType,
        description="JSONL file of rejected rows (default `<state_dir>/dead-letter.jsonl`).",
    ),
    th.Property(
        "full_resend",
        th.BooleanType,
        default=False,
        description="Ignore the ledger: send every row even if unchanged or already sent.",
    ),
    th.Property(
        "dry_run",
        th.BooleanType,
        default=False,
        description=(
            "Send nothing: write each would-be call to `dry_run_path` and log the counts. "
            "No STATE is emitted. The read-only key check (`GET {api_url}/`) still runs."
        ),
    ),
    th.Property(
        "dry_run_path",
        th.StringType,
        description="JSONL file of would-be calls (default `<state_dir>/dry-run.jsonl`).",
    ),
    th.Property(
        "truncate_long_strings",
        th.BooleanType,
        default=False,
        description="Cut strings to Refiner's 255 characters instead of rejecting the row.",
    ),
    MAX_REJECT_RATIO,
    MAX_REMOVAL_RATIO,
    ALLOW_LARGE_REMOVALS,
    th.Property(
        "validate_records",
        th.BooleanType,
        default=False,
        description=(
            "Check each row against its stream's JSON schema; rows that fail go to the "
            "dead-letter file. Off by default: the mapping already enforces what Refiner "
            "accepts, and schema validation costs about half of a re-sync's CPU time."
        ),
    ),
    PROGRESS_INTERVAL_SECONDS,
).to_dict()


def _ratio_errors(config: Mapping[str, Any]) -> list[str]:
    errors = []
    for prop in (MAX_REJECT_RATIO, MAX_REMOVAL_RATIO):
        ratio = config.get(prop.name)
        # JSON config files reach us with decimals as Decimal (the SDK's reader), hence Decimal.
        valid = isinstance(ratio, (int, float, Decimal)) and not isinstance(ratio, bool)
        if ratio is not None and not (valid and 0 <= ratio <= 1):
            errors.append(f"Setting `{prop.name}` must be between 0 and 1, got {ratio!r}.")
    return errors


def _ratio(config: Mapping[str, Any], prop: th.Property) -> float | None:
    """A ratio setting, else its default; 0 is a value here (``setting`` would take the default)."""
    value = config.get(prop.name)
    if value is None:
        value = prop.default
    return None if value is None else float(value)


def _ledger_url_errors(config: Mapping[str, Any]) -> list[str]:
    url = config.get(LEDGER_URL.name)
    if url and not is_postgres(url):
        return ["Setting `ledger_url` must be a PostgreSQL URL (postgresql://...)."]
    return store_url_errors(config, (LEDGER_URL,))


def check_settings(config: Mapping[str, Any]) -> list[str]:
    """Checks JSON schema cannot express (mappings, ratios, a blank key); each names the setting."""
    return [
        *connection_errors(config),
        *api_url_errors(config),
        *positive_number_errors(
            config, (MAX_CONCURRENCY, MAX_REQUESTS_PER_USER_PER_MINUTE, SYNC_LOG_RETENTION_DAYS)
        ),
        *_ratio_errors(config),
        *api_key_errors(config),
        *mapping_errors(config),
        *_ledger_url_errors(config),
    ]


@dataclass(frozen=True)
class Settings:
    """The validated settings the runtime needs (no API key; ``ledger_url`` may hold a password)."""

    mappings: dict[str, StreamMapping]
    default: StreamMapping | None
    api_url: str
    state_dir: Path
    #: PostgreSQL URL of the ledger (secret: it may hold a password); None: SQLite in state_dir.
    ledger_url: str | None
    dead_letter_path: Path
    dry_run_path: Path
    truncate_long_strings: bool
    max_concurrency: int
    request_timeout: float
    ledger_wait_seconds: float
    progress_interval_seconds: float
    max_reject_ratio: float | None
    max_removal_ratio: float
    allow_large_removals: bool
    dry_run: bool
    full_resend: bool
    sync_log: bool
    sync_log_retention_days: int

    def mapping_for(self, stream: str) -> StreamMapping | None:
        """The stream's own mapping, else the default (None: reject the stream's rows)."""
        return self.mappings.get(stream, self.default)


def settings_from_config(config: Mapping[str, Any]) -> Settings:
    """The run's Settings, from a config that passed :func:`check_settings`."""
    state_dir = Path(setting(config, STATE_DIR))
    # A null interval turns the progress line off, like 0 (only an unset one means the default).
    interval = config.get(PROGRESS_INTERVAL_SECONDS.name, PROGRESS_INTERVAL_SECONDS.default)
    return Settings(
        mappings=parse_mappings(config.get(MAPPINGS.name)),
        default=default_mapping(setting(config, DEFAULT_ACTION)),
        api_url=str(setting(config, API_URL)),
        state_dir=state_dir,
        ledger_url=config.get(LEDGER_URL.name) or None,
        dead_letter_path=Path(config.get("dead_letter_path") or state_dir / "dead-letter.jsonl"),
        dry_run_path=Path(config.get("dry_run_path") or state_dir / "dry-run.jsonl"),
        truncate_long_strings=bool(config.get("truncate_long_strings")),
        max_concurrency=int(setting(config, MAX_CONCURRENCY)),
        request_timeout=float(setting(config, REQUEST_TIMEOUT)),
        ledger_wait_seconds=float(setting(config, LEDGER_WAIT_SECONDS)),
        progress_interval_seconds=float(interval or 0),
        max_reject_ratio=_ratio(config, MAX_REJECT_RATIO),
        max_removal_ratio=_ratio(config, MAX_REMOVAL_RATIO) or 0.0,
        allow_large_removals=bool(config.get(ALLOW_LARGE_REMOVALS.name)),
        dry_run=bool(config.get("dry_run")),
        full_resend=bool(config.get("full_resend")),
        sync_log=config.get(SYNC_LOG.name) is not False,
        sync_log_retention_days=int(setting(config, SYNC_LOG_RETENTION_DAYS)),
    )
