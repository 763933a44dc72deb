"""``TapRefiner``: the settings and the stream list."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from singer_sdk import Tap
from singer_sdk import typing as th
from typing_extensions import override

from refiner_http.settings import (
    CONNECTION_SETTINGS,
    api_url_errors,
    connection_errors,
    count_setting,
    policy_from_config,
    raise_if_invalid,
    store_url_errors,
)
from refiner_http.stops import KnownStopLogFilter, known_stops_exit
from tap_refiner import streams
from tap_refiner.client import SharedListings
from tap_refiner.fetch_ahead import DEFAULT_WORKERS
from tap_refiner.interrupt import InterruptibleWriter, inside_logging, interrupted
from tap_refiner.shared_windows import SharedWindows
from tap_refiner.sync_log_streams import SYNC_LOG_STORE, SYNC_LOG_STREAMS
from tap_refiner.timestamps import parse
from tap_refiner.webhook_events import WEBHOOK_SETTINGS, WEBHOOK_STORE, WebhookEventsStream

if TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.streams import Stream

    from refiner_http import HttpPolicy

MAX_PAGE_LENGTH = 1000
ORDER_BY = ["first_seen_at", "last_seen_at", "last_form_submission_at"]
RESPONSES_INCLUDE = ["completed", "partials", "all"]
REPORT_TYPES = ["nps", "csat", "ratings", "distribution", "count"]

STREAM_TYPES: list[type[Stream]] = [
    streams.ContactsStream,
    streams.SegmentsStream,
    streams.SegmentMembershipsStream,
    streams.ResponsesStream,
    streams.AnswersStream,
    streams.FormsStream,
    streams.QuestionsStream,
    streams.AccountStream,
    streams.ReportsStream,
    WebhookEventsStream,
    *SYNC_LOG_STREAMS,
]

CONFIG_SCHEMA = th.PropertiesList(
    # -- connection and HTTP policy (shared with target-refiner) --------------------------
    *CONNECTION_SETTINGS,
    th.Property(
        "start_date",
        th.DateTimeType,
        description="Earliest response time to sync on the first run (ISO 8601). Without it, "
        "`responses`/`answers` start at the oldest response.",
    ),
    count_setting(
        "max_concurrent_requests",
        DEFAULT_WORKERS,
        "Independent requests (report days, response windows) in flight at once, all paced "
        "together by `max_requests_per_minute`; 1 reads one at a time. Records are written "
        "in the same order either way.",
    ),
    th.Property(
        "page_length",
        th.IntegerType(minimum=1, maximum=MAX_PAGE_LENGTH),
        default=MAX_PAGE_LENGTH,
        description="Items per page of list endpoints (1..1000; the API's maximum is 1000).",
    ),
    # -- contacts -----------------------------------------------------------------------------
    th.Property(
        "contacts_segment_uuid",
        th.StringType,
        description="`contacts`: only contacts in this segment.",
    ),
    th.Property(
        "contacts_form_uuid",
        th.StringType,
        description="`contacts`: only contacts linked to this survey.",
    ),
    th.Property(
        "contacts_order_by",
        th.StringType,
        allowed_values=ORDER_BY,
        description="`contacts`: sort order, one of " + ", ".join(ORDER_BY) + ".",
    ),
    th.Property(
        "contacts_search",
        th.StringType,
        description="`contacts`: only contacts whose email, user id or name matches.",
    ),
    th.Property(
        "max_contacts",
        th.IntegerType(minimum=0),
        default=0,
        description="`contacts`: stop after this many contacts (0 = all).",
    ),
    # -- responses and answers ------------------------------------------------------------------
    th.Property(
        "responses_include",
        th.StringType,
        default="completed",
        allowed_values=RESPONSES_INCLUDE,
        description="`responses`/`answers`: completed, partials (also unfinished) or all "
        "(also views and dismissals).",
    ),
    th.Property(
        "with_attributes",
        th.BooleanType,
        default=False,
        description="`responses`: add every contact attribute to `contact.attributes`.",
    ),
    th.Property(
        "form_uuids",
        th.ArrayType(th.StringType),
        description="`responses`/`answers`: only these surveys (sent as `form_uuids[]`).",
    ),
    th.Property(
        "responses_window_days",
        th.IntegerType(minimum=1),
        default=30,
        description="`responses`/`answers`: days per date window; the bookmark moves after "
        "each fully read window.",
    ),
    th.Property(
        "responses_lookback_hours",
        th.IntegerType(minimum=0),
        default=24,
        description="`responses`/`answers`: hours before the bookmark to read again, to catch "
        "responses stored late with a past date.",
    ),
    # -- reports ----------------------------------------------------------------------------
    th.Property(
        "report_types",
        th.ArrayType(th.StringType(allowed_values=REPORT_TYPES)),
        default=["nps", "csat", "ratings"],
        description="`reports`: report types to fetch per form and day, from "
        + ", ".join(REPORT_TYPES)
        + ".",
    ),
    th.Property(
        "reports_days",
        th.IntegerType(minimum=1),
        default=30,
        description="`reports`: how many UTC days back (today included) the first run reports.",
    ),
    count_setting(
        "reports_lookback_days",
        3,
        "`reports`: later runs read this many days up to the bookmark's day (the latest day "
        "written), and every day after it up to today, never more than `reports_days` back "
        "(Refiner recomputes past days).",
    ),
    # -- webhook_events ---------------------------------------------------------------------
    *WEBHOOK_SETTINGS,
    # -- sync_runs, sync_changelog, sync_snapshot ---------------------------------------------
    SYNC_LOG_STORE,
).to_dict()

KNOWN_STOP_LOG_FILTER = KnownStopLogFilter()


def check_settings(config: dict[str, Any]) -> list[str]:
    """Checks JSON Schema cannot express; messages name the setting, never its value if secret."""
    errors = [*connection_errors(config), *api_url_errors(config)]
    errors += store_url_errors(config, (WEBHOOK_STORE, SYNC_LOG_STORE))
    if config.get("start_date"):
        try:
            parse(str(config["start_date"]))
        except ValueError:
            errors.append(
                f"Setting `start_date` must be an ISO 8601 date-time, got {config['start_date']!r}"
            )
    return errors


class TapRefiner(Tap):
    """Singer tap for Refiner (refiner.io): contacts, segments, surveys, responses, reports."""

    name = "tap-refiner"
    #: Our distribution: `--about` and the first log line show its installed version.
    package_name = "refiner-singer"
    config_jsonschema = CONFIG_SCHEMA
    #: msgspec's writer (several times faster than the default JSON one), stoppable by signals.
    message_writer_class = InterruptibleWriter

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - passed on to Tap
        """Validate settings before any stream or request exists."""
        super().__init__(*args, **kwargs)
        if kwargs.get("validate_config", True):
            raise_if_invalid(check_settings(dict(self.config)))

    @override
    @classmethod
    def invoke(cls, **kwargs: Any) -> None:
        """The SDK's CLI; a run that stops for a known reason ends with one line, no traceback."""
        with known_stops_exit(cls.logger):
            super().invoke(**kwargs)

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: stop reading, write no more STATE, exit 143/130 (see interrupt.py)."""
        self.logger.info("Received signal %d: stopping", signum)
        writer = self.message_writer
        if not isinstance(writer, InterruptibleWriter):
            raise interrupted(signum)
        writer.interrupt(signum, now=not inside_logging(frame))

    @cached_property
    def http_policy(self) -> HttpPolicy:
        """One pacing/retry policy for the whole run, shared by every stream."""
        return policy_from_config(self.config, log=self.logger)

    @cached_property
    def shared_listings(self) -> SharedListings:
        """Listings several streams read (the forms), read once for the whole run."""
        return SharedListings()

    @cached_property
    def shared_windows(self) -> SharedWindows:
        """Windows of ``/responses`` read this run, for the other windowed stream to reuse."""
        return SharedWindows()

    @override
    def discover_streams(self) -> list[Stream]:
        """Every stream of the tap; the store streams are empty unless their setting is set."""
        found = [stream_type(tap=self) for stream_type in STREAM_TYPES]
        for stream in found:  # a known stop is one line: see KnownStopLogFilter
            stream.logger.addFilter(KNOWN_STOP_LOG_FILTER)
        return found


if __name__ == "__main__":
    TapRefiner.cli()
