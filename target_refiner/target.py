"""``target-refiner``: reverse ETL from Singer streams into Refiner (refiner.io).

Delivery is at-least-once without needless duplicates:

- every row is acknowledged once it is sent (and its ledger entry committed), skipped as
  unchanged, or written to the dead-letter file;
- a STATE message is emitted only when every row received before it is acknowledged, and as
  soon as that happens (the thread that acknowledges the last such row writes it), instead of
  only at the SDK's periodic ``drain_all``; ``drain_all`` itself waits for acknowledgements, so its
  STATE write is safe too (duplicates of the last emitted STATE are suppressed);
- the ledger is committed before a row is acknowledged, so a rerun from the last emitted STATE
  after a kill -9 skips identifies and track events Refiner already acknowledged. Only calls in
  flight at the moment of the kill (at most ``max_concurrency``) can be sent twice: Refiner has no
  idempotency key, so no client can do better.

A dry run never emits STATE, so it cannot move a bookmark past rows it did not send.
"""

from __future__ import annotations

import copy
import logging
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import PluginCapabilities
from singer_sdk.target_base import Target

from refiner_http import DEFAULT_API_URL, Redactor, RefinerClient
from refiner_http.settings import CONNECTION_SETTINGS, policy_from_config
from target_refiner.deadletter import DeadLetter, JsonLines
from target_refiner.ledger import Ledger, ledger_path
from target_refiner.mapping import (
    ACTIONS,
    DELETE_CONTACT,
    IDENTIFY,
    NO_ACTION,
    SettingsError,
    StreamMapping,
    default_mapping,
    parse_mappings,
)
from target_refiner.progress import Progress
from target_refiner.sender import AckTracker, DryRunSender, Sender
from target_refiner.sinks import RefinerSink

if TYPE_CHECKING:
    from singer_sdk.helpers.capabilities import CapabilitiesEnum

DEFAULT_STATE_DIR = ".target-refiner"

MAPPING_SCHEMA = th.ObjectType(
    th.Property(
        "action",
        th.StringType(allowed_values=list(ACTIONS)),
        default=IDENTIFY,
        description="What each row does in Refiner.",
    ),
    th.Property(
        "user_id",
        th.StringType,
        description="Field holding your user id (sent as `id`). One of user_id/email required.",
    ),
    th.Property("email", th.StringType, description="Field holding the user's email."),
    th.Property("event", th.StringType, description="track: field holding the event name."),
    th.Property("event_name", th.StringType, description="track: constant event name."),
    th.Property(
        "attributes",
        th.ArrayType(th.StringType),
        description="identify: fields to send as traits (default: every other field).",
    ),
    th.Property("exclude", th.ArrayType(th.StringType), description="identify: fields never sent."),
    th.Property(
        "account",
        th.ObjectType(
            th.Property("id", th.StringType, required=True),
            th.Property("name", th.StringType),
            th.Property("attributes", th.ArrayType(th.StringType)),
        ),
        description=(
            "identify: field names for the nested `account` object: `id` (required), `name`, "
            "`attributes` (account traits)."
        ),
    ),
    th.Property("segment_uuid", th.StringType, description="Segment actions: constant uuid."),
    th.Property(
        "segment_uuid_field", th.StringType, description="Segment actions: field holding the uuid."
    ),
    additional_properties=False,
)


@dataclass(frozen=True)
class Settings:
    """The validated settings the runtime needs (SDK config is a plain dict)."""

    mappings: dict[str, StreamMapping]
    default: StreamMapping | None
    state_dir: Path
    dead_letter_path: Path
    dry_run_path: Path
    truncate_long_strings: bool

    def mapping_for(self, stream: str) -> StreamMapping | None:
        """The stream's own mapping, else the default (None: reject the stream's rows)."""
        return self.mappings.get(stream, self.default)


def _positive(config: dict[str, Any], name: str, default: float) -> float:
    value = config.get(name)
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        msg = f"Setting `{name}` must be a positive number, got {value!r}."
        raise SettingsError(msg)
    return float(value)


def parse_settings(config: dict[str, Any]) -> Settings:
    """Validate what JSON schema cannot (mappings, ratios); errors name the setting."""
    for name, default in (
        ("max_concurrency", 8),
        ("max_requests_per_minute", 4000),
        ("max_requests_per_user_per_minute", 100),
        ("max_tries", 8),
        ("request_timeout", 60),
    ):
        _positive(config, name, default)
    ratio = config.get("max_reject_ratio")
    if ratio is not None and not (isinstance(ratio, (int, float)) and 0 <= ratio <= 1):
        msg = f"Setting `max_reject_ratio` must be between 0 and 1, got {ratio!r}."
        raise SettingsError(msg)
    if not isinstance(config.get("api_key"), str) or not config["api_key"].strip():
        msg = "Setting `api_key` is required (the Refiner REST API key)."
        raise SettingsError(msg)
    state_dir = Path(config.get("state_dir") or DEFAULT_STATE_DIR)
    return Settings(
        mappings=parse_mappings(config.get("mappings")),
        default=default_mapping(config.get("default_action") or IDENTIFY),
        state_dir=state_dir,
        dead_letter_path=Path(config.get("dead_letter_path") or state_dir / "dead-letter.jsonl"),
        dry_run_path=Path(config.get("dry_run_path") or state_dir / "dry-run.jsonl"),
        truncate_long_strings=bool(config.get("truncate_long_strings")),
    )


class Runtime:
    """Everything a run shares: HTTP client, ledger, dead-letter file, progress, sender."""

    def __init__(self, target: TargetRefiner, settings: Settings) -> None:
        """Build and start the shared pieces."""
        config = target.config
        log = target.logger
        api_key = str(config["api_key"])
        api_url = str(config.get("api_url") or DEFAULT_API_URL)
        self.redactor = Redactor([api_key])
        self._filters = [
            (logger, self.redactor.logging_filter())
            for logger in (log, logging.getLogger("refiner_http"), logging.getLogger("urllib3"))
        ]
        for logger, log_filter in self._filters:
            logger.addFilter(log_filter)
        self.dry_run = bool(config.get("dry_run"))
        self.ledger = Ledger(ledger_path(settings.state_dir, api_url, api_key))
        self.dead_letter = DeadLetter(settings.dead_letter_path, self.redactor)
        self.progress = Progress(
            log,
            interval=float(config.get("progress_interval_seconds", 5) or 0),
            max_reject_ratio=config.get("max_reject_ratio"),
            dead_letter_hint=str(settings.dead_letter_path),
        )
        self.tracker = AckTracker(target.emit_state)
        full_resend = bool(config.get("full_resend"))
        self.client: RefinerClient | None = None
        self.sender: Sender | DryRunSender
        if self.dry_run:
            out = JsonLines(settings.dry_run_path, self.redactor)
            self.sender = DryRunSender(self.ledger, out, self.progress, full_resend=full_resend)
        else:
            concurrency = int(config.get("max_concurrency") or 8)
            policy = policy_from_config(config, log=log, redactor=self.redactor)
            self.client = RefinerClient(
                api_key,
                api_url,
                policy=policy,
                timeout=float(config.get("request_timeout") or 60),
                pool_size=concurrency,
                log=log,
            )
            self.sender = Sender(
                self.client,
                self.ledger,
                self.dead_letter,
                self.progress,
                self.tracker,
                max_concurrency=concurrency,
                full_resend=full_resend,
                log=log,
            )
        self.progress.start()
        self.closed = False

    def close(self) -> None:
        """Stop threads and release files (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self.progress.stop()
        self.sender.close()
        if self.client is not None:
            self.client.close()
        self.dead_letter.close()
        self.ledger.close()
        for logger, log_filter in self._filters:
            logger.removeFilter(log_filter)


class TargetRefiner(Target):
    """Reverse ETL into Refiner: identify users, track events, sync segments, delete contacts."""

    name = "target-refiner"
    default_sink_class = RefinerSink
    #: BATCH messages (JSONL files from a batch-capable tap) are replayed row by row.
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        *Target.capabilities,
        PluginCapabilities.BATCH,
    ]

    config_jsonschema = th.PropertiesList(
        *CONNECTION_SETTINGS,
        th.Property(
            "mappings",
            th.ObjectType(additional_properties=MAPPING_SCHEMA),
            description=(
                "Per-stream mapping, keyed by stream name: `action` (identify, track, "
                "add_to_segment, remove_from_segment, delete_contact), `user_id` and/or `email` "
                "(field names; each row needs one value), `event` or `event_name` (track), "
                "`attributes`/`exclude` (identify traits; default every other field), `account` "
                "({id, name, attributes} field names), `segment_uuid` or `segment_uuid_field`. "
                "Nested objects become `parent_child` traits; arrays are rejected."
            ),
        ),
        th.Property(
            "default_action",
            th.StringType(allowed_values=[IDENTIFY, DELETE_CONTACT, NO_ACTION]),
            default=IDENTIFY,
            description=(
                "Action for streams without a mapping (user id from `id` or `user_id`, email "
                "from `email`, other fields as traits). `none` rejects their rows."
            ),
        ),
        th.Property(
            "max_concurrency",
            th.IntegerType(minimum=1),
            default=8,
            description="Calls in flight at once (bounded worker threads).",
        ),
        th.Property(
            "max_requests_per_user_per_minute",
            th.NumberType(exclusive_minimum=0),
            default=100,
            description="Pacing per user id or email (Refiner allows 100/min per user).",
        ),
        th.Property(
            "state_dir",
            th.StringType,
            default=DEFAULT_STATE_DIR,
            description="Directory of the SQLite ledger (change detection, replay protection).",
        ),
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
                "No STATE is emitted."
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
        th.Property(
            "max_reject_ratio",
            th.NumberType(minimum=0, maximum=1),
            description=(
                "Fail the run once rejected rows exceed this share of rows handled (checked from "
                "100 rows on, and at the end). Default: never fail on rejections."
            ),
        ),
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
        th.Property(
            "progress_interval_seconds",
            th.NumberType(minimum=0),
            default=5,
            description="Seconds between progress lines (0 turns them off).",
        ),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        """Validate settings beyond JSON schema before anything is sent."""
        self._state_lock = threading.Lock()
        self._last_emitted: dict | None = None
        super().__init__(*args, **kwargs)
        try:
            self.settings = parse_settings(dict(self.config))
        except SettingsError as exc:
            raise ConfigValidationError(str(exc), errors=[str(exc)]) from exc

    @cached_property
    def runtime(self) -> Runtime:
        """Built on first use, so ``--about`` and config checks start no threads."""
        return Runtime(self, self.settings)

    # -- STATE ----------------------------------------------------------------------------
    def _process_state_message(self, message_dict: dict) -> None:
        """Hold the STATE until every row before it is acknowledged (see the module doc)."""
        self._assert_line_requires(message_dict, requires={"value"})
        if self._latest_state == message_dict["value"]:
            return
        super()._process_state_message(message_dict)
        self.runtime.tracker.add_state(copy.deepcopy(message_dict["value"]))

    def emit_state(self, state: dict) -> None:
        """Write a STATE message (any thread); never the same one twice in a row."""
        self._write_state_message(state)

    def _write_state_message(self, state: dict) -> None:
        with self._state_lock:
            if state == self._last_emitted:
                return
            if self.config.get("dry_run"):
                self.logger.debug("Dry run: not emitting STATE")
                return
            super()._write_state_message(state)
            self._last_emitted = copy.deepcopy(state)

    # -- end of input ---------------------------------------------------------------------
    def process_endofpipe(self) -> None:
        """Drain (wait for every acknowledgement), log the summary, enforce the reject ratio."""
        if "runtime" not in self.__dict__:
            super().process_endofpipe()
            return
        runtime = self.runtime
        try:
            super().process_endofpipe()
        finally:
            runtime.close()
            runtime.progress.summary()
            if runtime.dry_run:
                total = runtime.progress.totals()
                self.logger.info(
                    "Dry run: %d calls written to %s, %d skipped unchanged, %d rejected",
                    total.sent,
                    self.settings.dry_run_path,
                    total.skipped,
                    total.rejected,
                )
        runtime.progress.check_reject_ratio(final=True)


if __name__ == "__main__":
    TargetRefiner.cli()
