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

A dry run never emits STATE, so it cannot move a bookmark past rows it did not send. With
``max_reject_ratio`` set, STATE is held until the end-of-run check passes. A run that cannot go
on (bad key or URL, an answer about the endpoint, the ledger in use, SIGTERM) stops with one
line and a non-zero exit, and never emits a STATE past an unacknowledged row.
"""

from __future__ import annotations

import copy
import logging
import signal
import sys
import threading
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import PluginCapabilities
from singer_sdk.target_base import Target
from typing_extensions import override

from refiner_http import (
    DEFAULT_API_URL,
    Redactor,
    RefinerAuthError,
    RefinerClient,
    RefinerEndpointError,
)
from refiner_http.policy import RETRYABLE_EXCEPTIONS
from refiner_http.settings import CONNECTION_SETTINGS, policy_from_config
from target_refiner.deadletter import DeadLetter, JsonLines
from target_refiner.errors import EXIT_FAILED, RunInterruptedError, RunStoppedError
from target_refiner.interrupt import InterruptibleReader
from target_refiner.ledger import Ledger, ledger_path
from target_refiner.lock import LedgerLock
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
from target_refiner.people import People
from target_refiner.progress import Progress
from target_refiner.sender import AckTracker, DryRunSender, Sender
from target_refiner.sinks import RefinerSink

if TYPE_CHECKING:
    from types import FrameType

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
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) or value <= 0:
        msg = f"Setting `{name}` must be a positive number, got {value!r}."
        raise SettingsError(msg)
    return float(value)


def _optional_float(value: float | Decimal | None) -> float | None:
    return None if value is None else float(value)


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
    # JSON config files reach us with decimals as Decimal (the SDK's reader), hence Decimal.
    if ratio is not None and not (isinstance(ratio, (int, float, Decimal)) and 0 <= ratio <= 1):
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
    """Everything a run shares: HTTP client, ledger (and its lock), dead-letter file, sender.

    Built once, before the first input line is read: the key and URL are checked first
    (``GET {api_url}/``), so a wrong key or an ``api_url`` that is not Refiner stops the run
    with one line before anything is read, sent or written.
    """

    def __init__(self, target: TargetRefiner, settings: Settings) -> None:
        """Check the API, take the ledger, and start the shared pieces."""
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
        self.closed = False
        self.dry_run = bool(config.get("dry_run"))
        concurrency = int(config.get("max_concurrency") or 8)
        self.client = RefinerClient(
            api_key,
            api_url,
            policy=policy_from_config(config, log=log, redactor=self.redactor),
            timeout=float(config.get("request_timeout") or 60),
            pool_size=concurrency,
            log=log,
        )
        try:
            self._check_api(api_url, log)
            path = ledger_path(settings.state_dir, api_url, api_key)
            self.lock = LedgerLock(
                path.with_suffix(".lock"),
                wait_seconds=float(config.get("ledger_wait_seconds") or 0),
            )
        except BaseException:
            self._release_early()
            raise
        self.ledger = Ledger(path)
        self.people = People(self.ledger)
        # Files mask only the settings marked secret (no guessing by shape: see deadletter.py).
        file_redactor = Redactor.for_settings(config, target.config_jsonschema)
        self.dead_letter = DeadLetter(settings.dead_letter_path, file_redactor)
        self.progress = Progress(
            log,
            interval=float(config.get("progress_interval_seconds", 5) or 0),
            max_reject_ratio=_optional_float(config.get("max_reject_ratio")),
            dead_letter_hint=str(settings.dead_letter_path),
        )
        self.tracker = AckTracker(target.emit_state)
        full_resend = bool(config.get("full_resend"))
        self.sender: Sender | DryRunSender
        if self.dry_run:
            out = JsonLines(settings.dry_run_path, file_redactor)
            self.sender = DryRunSender(
                self.ledger, self.people, out, self.progress, full_resend=full_resend
            )
        else:
            self.sender = Sender(
                self.client,
                self.ledger,
                self.dead_letter,
                self.progress,
                self.tracker,
                people=self.people,
                max_concurrency=concurrency,
                full_resend=full_resend,
                log=log,
            )
        self.progress.start()

    def _check_api(self, api_url: str, log: logging.Logger) -> None:
        """Refiner's key check; a wrong key or URL becomes one clear line (RunStoppedError)."""
        try:
            body = self.client.check_api()
        except (RefinerAuthError, RefinerEndpointError) as exc:
            msg = f"Cannot use `api_url` {api_url}: {exc}"
            raise RunStoppedError(self.redactor(msg)) from None
        except RETRYABLE_EXCEPTIONS as exc:
            msg = f"Cannot reach `api_url` {api_url} (setting `max_tries` exhausted): {exc}"
            raise RunStoppedError(self.redactor(msg)) from None
        log.info("Refiner key check passed: project %r", body.get("project_name") or "?")

    def _release_early(self) -> None:
        self.client.close()
        for logger, log_filter in self._filters:
            logger.removeFilter(log_filter)

    def close(self) -> None:
        """Stop threads and release files and the ledger lock (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self.progress.stop()
        self.sender.close()
        self.client.close()
        self.dead_letter.close()
        self.ledger.close()
        self.lock.release()
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
            "ledger_wait_seconds",
            th.IntegerType(minimum=0),
            default=0,
            description=(
                "Only one run may write a ledger (`state_dir` + environment). 0: a second run "
                "stops at once, naming the holder (pid, host, start time); N: wait up to N "
                "seconds for the holder to finish first."
            ),
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
        th.Property(
            "max_reject_ratio",
            th.NumberType(minimum=0, maximum=1),
            description=(
                "Fail the run once rejected rows exceed this share of rows handled (checked from "
                "100 rows on, and at the end). When set, STATE is emitted only at the end, after "
                "the check passes, so a failed run never moves the bookmark. Default: never fail "
                "on rejections."
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

    message_reader_class = InterruptibleReader

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        """Validate settings beyond JSON schema before anything is sent."""
        self._state_lock = threading.Lock()
        self._last_emitted: dict | None = None
        self._held_state: dict | None = None
        super().__init__(*args, **kwargs)
        try:
            self.settings = parse_settings(dict(self.config))
        except SettingsError as exc:
            raise ConfigValidationError(str(exc), errors=[str(exc)]) from exc
        #: With `max_reject_ratio`, STATE waits for the end-of-run check.
        self._hold_states = self.config.get("max_reject_ratio") is not None
        if isinstance(self.message_reader, InterruptibleReader):
            self.message_reader.on_start = lambda: self.runtime

    @cached_property
    def runtime(self) -> Runtime:
        """Built before the first input line (``InterruptibleReader.on_start``)."""
        return Runtime(self, self.settings)

    # -- input: RECORD and BATCH rows take one path (issue 8) -----------------------------
    #: The row being processed as it arrived, before stream maps and parsing (a reference, not
    #: a copy): what ``RefinerSink`` dead-letters and hands to the sender.
    arrived_record: dict | None = None

    @override
    def _process_record_message(self, message_dict: dict) -> None:
        """Remember the row as it arrived, then let the SDK map, check and validate it."""
        self.arrived_record = message_dict.get("record")
        try:
            super()._process_record_message(message_dict)
        finally:
            self.arrived_record = None

    @override
    def _process_batch_message(self, message_dict: dict) -> None:
        """Replay each row of the BATCH files as a RECORD message: one path for every row.

        The SDK's own handler gives the rows to the sink directly, skipping stream maps, key
        checks and validation. STATE stays safe: rows are numbered as they are submitted.
        """
        self._assert_line_requires(message_dict, requires={"stream", "encoding", "manifest"})
        stream = message_dict["stream"]
        for row in RefinerSink.batch_rows(message_dict, self.config.get("batch_config")):
            self._process_record_message({"type": "RECORD", "stream": stream, "record": row})

    @override
    @classmethod
    def invoke(cls, **kwargs: Any) -> None:
        """The SDK's CLI; a run that stops for a known reason ends with one line, no traceback."""
        try:
            super().invoke(**kwargs)
        except ConfigValidationError as exc:
            problems = "; ".join(exc.errors) or str(exc)
            cls.logger.error("Invalid configuration: %s", problems)  # noqa: TRY400 - one line
            sys.exit(EXIT_FAILED)
        except RunStoppedError as exc:
            cls.logger.error("%s", exc)  # noqa: TRY400 - the message is the whole story
            sys.exit(exc.exit_code)

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: end the input; ``process_endofpipe`` finishes (see interrupt.py)."""
        self.logger.info("Received signal %d: finishing the calls in flight, then stopping", signum)
        if isinstance(self.message_reader, InterruptibleReader):
            self.message_reader.interrupt(signum)

    # -- STATE ----------------------------------------------------------------------------
    @override
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

    @override
    def _write_state_message(self, state: dict) -> None:
        """Write a safe STATE; with ``max_reject_ratio`` keep it until the ratio is judged.

        A run that fails the ratio then ends without having moved the bookmark at all.
        """
        with self._state_lock:
            if self._hold_states:
                self._held_state = copy.deepcopy(state)
                return
            self._write_now(state)

    def _write_now(self, state: dict) -> None:
        if state == self._last_emitted:
            return
        if self.config.get("dry_run"):
            self.logger.debug("Dry run: not emitting STATE")
            return
        super()._write_state_message(state)
        self._last_emitted = copy.deepcopy(state)

    def _release_held_state(self) -> None:
        """The reject ratio passed: write the newest safe STATE kept back."""
        with self._state_lock:
            self._hold_states = False
            if self._held_state is not None:
                self._write_now(self._held_state)

    # -- end of input ---------------------------------------------------------------------
    @override
    def process_endofpipe(self) -> None:
        """Finish: acknowledgements, the reject-ratio check, the final STATE, the summary.

        Interrupted, only the calls in flight are waited for; the rows still queued stay
        unacknowledged, so no STATE covers them.
        """
        if "runtime" not in self.__dict__:
            super().process_endofpipe()
            return
        runtime = self.runtime
        signum = getattr(self.message_reader, "signum", None)
        try:
            if signum is None:
                super().process_endofpipe()  # drains: waits for every acknowledgement
            else:
                runtime.sender.interrupt()
                runtime.sender.raise_if_failed()
            runtime.progress.check_reject_ratio(final=True)
            self._release_held_state()
        finally:
            runtime.close()
            self._log_summary(runtime)
        if signum is not None:
            left = runtime.tracker.outstanding
            msg = (
                f"Interrupted by {signal.Signals(signum).name}: the calls in flight finished and "
                f"the last STATE emitted covers every acknowledged row; {left} rows read were not "
                "sent. Run again to continue from that STATE."
            )
            raise RunInterruptedError(signum, msg)

    def _log_summary(self, runtime: Runtime) -> None:
        runtime.progress.summary()
        if runtime.dry_run:
            total = runtime.progress.totals()
            self.logger.info(
                "Dry run: %d calls written to %s, %d skipped unchanged, %d rejected",
                total.sent,
                self.settings.dry_run_path,
                total.skipped + total.replayed,
                total.rejected,
            )


if __name__ == "__main__":
    TargetRefiner.cli()
