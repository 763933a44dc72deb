"""The tap's streams, each declared once: name, path, keys, bookmark, schema, rows.

A stream whose rows are its API objects projected onto its schema declares nothing more
(``RefinerStream.post_process`` projects them); a stream that restructures says how in
``get_records`` (``tap_refiner.shapes``), and its rows are projected all the same.
"""

from __future__ import annotations

from contextlib import closing
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_refiner import schemas, shapes
from tap_refiner.account_filters import check_account_filters
from tap_refiner.bookmark_filters import filter_changes, filter_values, record_filters
from tap_refiner.client import FORMS_LISTING_PARAMS, RefinerStream
from tap_refiner.incremental import WindowedResponsesStream
from tap_refiner.timestamps import format_utc, parse

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from singer_sdk.helpers.types import Context

    from refiner_http.page_reader import PageToken

#: Settings a ``reports`` bookmark depends on (``tap_refiner.bookmark_filters``).
REPORT_FILTERS = ("report_types",)
#: Settings of ``contacts`` sent as filters: query parameter -> setting.
CONTACTS_FILTERS: Mapping[str, str] = {
    "order_by": "contacts_order_by",
    "segment_uuid": "contacts_segment_uuid",
    "form_uuid": "contacts_form_uuid",
    "search": "contacts_search",
}


def forms_listing(stream: RefinerStream) -> list[dict[str, Any]]:
    """The forms listing, read once per run for ``forms``, ``questions`` and ``reports``."""
    return stream.shared_items("/forms", FORMS_LISTING_PARAMS)


class ContactsStream(RefinerStream):
    """``GET /contacts`` with its filters; full table, stops early at ``max_contacts``."""

    name = "contacts"
    path = "/contacts"
    primary_keys = ("uuid",)
    schema = schemas.CONTACTS

    @override
    def get_url_params(
        self, context: Context | None, next_page_token: PageToken | None
    ) -> dict[str, Any]:
        """``order_by``, ``segment_uuid``, ``form_uuid`` and ``search`` when set."""
        config = self.config
        filters = {param: config[key] for param, key in CONTACTS_FILTERS.items() if config.get(key)}
        return {**filters, **super().get_url_params(context, next_page_token)}

    @property
    def max_contacts(self) -> int:
        """The ``max_contacts`` setting; 0 means all."""
        return int(self.config.get("max_contacts") or 0)

    @property
    @override
    def page_length(self) -> int:
        """No larger pages than ``max_contacts`` needs."""
        limit = self.max_contacts
        return min(super().page_length, limit) if limit else super().page_length

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Stop requesting pages once ``max_contacts`` contacts were read."""
        check_account_filters(self, ("contacts_segment_uuid", "contacts_form_uuid"))
        limit = self.max_contacts
        for count, raw in enumerate(super().get_records(context), start=1):
            yield raw
            if limit and count >= limit:
                return


class SegmentsStream(RefinerStream):
    """``GET /segments``; parent of ``segment_memberships``."""

    name = "segments"
    path = "/segments"
    primary_keys = ("uuid",)
    schema = schemas.SEGMENTS

    @override
    def get_child_context(self, record: dict, context: Context | None) -> dict:
        """Each segment is one partition of ``segment_memberships``."""
        return {"segment_uuid": record["uuid"]}


class SegmentMembershipsStream(RefinerStream):
    """Who entered which segment when: ``/contacts?segment_uuid=…`` per segment.

    Incremental per segment on ``entered_at`` (the contact's ``segments[].created_at``). The API
    cannot filter contacts by that time, so each run lists the segment's contacts and emits only
    rows at or after the partition's bookmark; the bookmark moves when a segment is done.
    """

    name = "segment_memberships"
    path = "/contacts"
    parent_stream_type = SegmentsStream
    primary_keys = ("segment_uuid", "contact_uuid")
    replication_key = "entered_at"
    schema = schemas.SEGMENT_MEMBERSHIPS

    @override
    def get_url_params(
        self, context: Context | None, next_page_token: PageToken | None
    ) -> dict[str, Any]:
        """Only the partition's segment."""
        segment = {"segment_uuid": (context or {})["segment_uuid"]}
        return {**segment, **super().get_url_params(context, next_page_token)}

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Membership rows newer than the partition's bookmark."""
        segment_uuid = (context or {})["segment_uuid"]
        since = self.get_starting_timestamp(context)
        for raw in super().get_records(context):
            row = shapes.segment_membership(raw, segment_uuid)
            if row is None:
                continue
            entered = row["entered_at"]
            if since is None or entered is None or parse(entered) >= since:
                yield row


class ResponsesStream(WindowedResponsesStream):
    """Survey responses ("watch completed survey"), incremental in date windows."""

    name = "responses"
    primary_keys = ("uuid",)
    schema = schemas.RESPONSES

    @override
    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """The response with ``form_uuid`` lifted out of ``form`` for joins."""
        form = shapes.response_form(row)
        lifted = {**row, "form": form, "form_uuid": form.get("uuid") if form else None}
        return super().post_process(lifted, context)


class AnswersStream(WindowedResponsesStream):
    """One typed row per (response, question), read from ``/responses`` on its own bookmark.

    A sibling rather than an SDK child of ``responses``: a child is synced once per parent
    record (a SCHEMA message and a sync per response). Both selected, the windows ``responses``
    read are reused when the bounds match (``tap_refiner.shared_windows``), so answers cost no
    second pass; each stays independently selectable, with its own bookmark.
    """

    name = "answers"
    primary_keys = ("response_uuid", "question_id")
    replication_key = "answered_at"
    schema = schemas.ANSWERS

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Explode each response of each window into its answers."""
        for raw in super().get_records(context):
            yield from shapes.answers(raw)


class FormsStream(RefinerStream):
    """Every survey, archived ones included, with info and config (the shared listing)."""

    name = "forms"
    path = "/forms"
    primary_keys = ("uuid",)
    schema = schemas.FORMS

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The forms listing, as read once for the run."""
        yield from forms_listing(self)


class QuestionsStream(RefinerStream):
    """One row per question of every form (``config.form_elements``)."""

    name = "questions"
    path = "/forms"
    primary_keys = ("form_uuid", "question_id")
    schema = schemas.QUESTIONS

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Explode each form of the shared listing into its questions."""
        for raw in forms_listing(self):
            yield from shapes.questions(raw)


class AccountStream(RefinerStream):
    """One usage snapshot per run from ``GET /account``."""

    name = "account"
    path = "/account"
    primary_keys = ("extracted_at",)
    schema = schemas.ACCOUNT_USAGE
    paged = False
    as_sent = ("environments",)  # every key the API sends; the schema names the usual ones

    @override
    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """The subscription's counters lifted to the top, stamped with the snapshot's time."""
        raw = row.get("subscription")
        subscription = raw if isinstance(raw, dict) else {}
        snapshot = {
            **subscription,
            "subscription": subscription,
            "environments": row.get("environments"),
            "extracted_at": format_utc(datetime.now(timezone.utc)),
        }
        return super().post_process(snapshot, context)


class ReportsStream(RefinerStream):
    """``GET /reporting`` per form, report type and UTC day: ``reports_days`` days, then a lookback.

    One row per (form_uuid, type, date) with the numeric keys the API answers for that type.
    Refiner recomputes the aggregates (late responses change past days), so a day is never
    final: the first run reads the last ``reports_days`` days (today included), later runs
    re-read ``reports_lookback_days`` days up to today from the bookmark's day, never more than
    ``reports_days`` back. The bookmark is the latest ``date`` written, with the SDK's
    unsorted-stream semantics (rows come form by form, each form's days in turn): it becomes
    resumable only once the whole stream is read, so a run stopped mid-way leaves the last
    complete run's bookmark, and its resumption reads every day that run did not. The bookmark
    is the stream's, not each (form, type)'s: a form created later has no earlier days, and a
    report type added to the settings gets its ``reports_days`` days (the bookmark records the
    types it covers, ``tap_refiner.bookmark_filters``).

    Each day is asked as ``date_range_start=D 00:00:00``/``date_range_end=D+1 00:00:00``. The
    sources disagree whether the end is exclusive (§3.6) or inclusive; with a date-only end
    (``D+1``) the inclusive variant would add the whole next day, counting every day twice. With
    a time, the documented exclusive end selects exactly day D, and an inclusive end adds only
    what happened in the very second D+1 00:00:00 (Refiner's timestamps have whole seconds).
    The requests are independent: they run ``max_concurrent_requests`` at a time
    (``FetchAhead``), their rows written in the order above.
    """

    name = "reports"
    path = "/reporting"
    primary_keys = ("form_uuid", "type", "date")
    replication_key = "date"
    schema = schemas.REPORTS
    paged = False

    @override
    def get_url_params(
        self, context: Context | None, next_page_token: PageToken | None
    ) -> dict[str, Any]:
        """The report's type, form and day."""
        ctx = dict(context or {})
        return {
            "type": ctx["type"],
            "form_uuids[]": [ctx["form_uuid"]],
            "date_range_start": f"{ctx['date']} 00:00:00",
            "date_range_end": f"{ctx['date_end']} 00:00:00",
            **super().get_url_params(context, next_page_token),
        }

    def days(self, context: Context | None = None, *, from_start: bool = False) -> list[str]:
        """The days to report, oldest first, to today (UTC); ``from_start``: as if no bookmark."""
        today = datetime.now(timezone.utc).date()
        first = today - timedelta(days=int(self.config.get("reports_days", 30)) - 1)
        state = self.get_context_state(context)
        bookmark = state.get("replication_key_value")
        if bookmark and state.get("replication_key") == self.replication_key and not from_start:
            lookback = int(self.config.get("reports_lookback_days", 3))
            latest = min(date.fromisoformat(str(bookmark)[:10]), today)
            first = max(first, latest - timedelta(days=lookback - 1))
        return [(first + timedelta(days=n)).isoformat() for n in range((today - first).days + 1)]

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Ask every (form, type, day) and emit one row each, keyed by the three.

        A report type added since the bookmark gets its days from ``reports_days`` back; the
        bookmark records the types once the whole stream is read (``bookmark_filters``).
        """
        form_uuids = [form["uuid"] for form in forms_listing(self)]
        types = list(self.config.get("report_types") or ("nps", "csat", "ratings"))
        state = self.get_context_state(context)
        current = filter_values(self.config, REPORT_FILTERS)
        changes = filter_changes(state, current, stream=self.name, log=self.logger)
        added = changes.added("report_types", lambda: types)
        if added:
            self.logger.warning(
                "Setting `report_types` adds %s since the bookmark of `reports` was written: "
                "reading their last %s days (`reports_days`)",
                ", ".join(repr(t) for t in added),
                self.config.get("reports_days", 30),
            )
        days = {False: self.days(context), True: self.days(context, from_start=True)}
        keys = [
            {"form_uuid": form_uuid, "type": report_type, "date": day}
            for form_uuid in form_uuids
            for report_type in types
            for day in days[report_type in added]
        ]
        with closing(self.fetch_ahead().in_order(self._report, keys)) as reports:
            for key, bodies in reports:
                for body in bodies:
                    yield {**body, **key}
        record_filters(state, current)

    def _report(self, key: dict[str, str]) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """One report request (the SDK's request path) and what it answered."""
        next_day = (date.fromisoformat(key["date"]) + timedelta(days=1)).isoformat()
        return key, list(self.request_records({**key, "date_end": next_day}))
