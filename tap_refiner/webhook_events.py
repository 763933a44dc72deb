"""``webhook_events``: the events ``refiner-webhooks serve`` stored, read incrementally by ``seq``.

Refiner pushes survey completions, segment entries and tags as webhooks, which the REST API
cannot list after the fact. The receiver stores them in SQLite or PostgreSQL; this stream reads
the store read-only, in ``seq`` order, from the last ``seq`` in the state. Writers commit one at
a time (one writer thread; in PostgreSQL also an advisory lock), so ``seq`` values appear in
increasing order and the bookmark never skips one.

- ``webhook_store`` unset: the stream yields nothing and logs one line saying how to enable it.
- ``webhook_store`` set but no file there (or no store in that database): the sync fails with a
  clear error, because a wrong path would otherwise look like "no events" and silently lose
  data. The receiver creates the store when it starts, so run it (once) before the tap.
- The bookmark carries the store's identity (``store_id`` next to the ``seq``). A bookmark from
  another store (the file was recreated, so its ``seq`` restarted), or from a store or a
  bookmark without an id, is not trusted: the stream reads from the beginning with a warning
  naming both ids. Re-reading is harmless downstream (``seq`` is the key); skipping is not.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from refiner_http.stops import RunStoppedError
from refiner_stores.location import is_postgres, masked
from refiner_webhooks.stores import read_events, read_store_id
from tap_refiner.run_summary import SummarizedStream

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context

WEBHOOK_STORE = th.Property(
    "webhook_store",
    th.StringType,
    secret=True,  # a PostgreSQL URL may carry a password
    description=(
        "Where `refiner-webhooks serve --store` keeps the webhooks: the path of its SQLite file "
        "(default there: `.refiner-webhooks/events.sqlite`; relative to the working "
        "directory), or a PostgreSQL URL (`postgresql://user:password@host/db`, the `postgres` "
        "extra) so the receiver and the tap can run on different machines. When set, the "
        "`webhook_events` stream emits every stored webhook once, in arrival order; when unset, "
        "that stream is skipped."
    ),
    examples=[".refiner-webhooks/events.sqlite", "postgresql://refiner@db.internal/refiner"],
)
WEBHOOK_SETTINGS = th.PropertiesList(WEBHOOK_STORE)
SETTING = "Setting `webhook_store`"

SCHEMA = th.PropertiesList(
    th.Property("seq", th.IntegerType, required=True, description="Arrival order in the store"),
    th.Property("event_type", th.StringType, description="Refiner's `triggered_event`"),
    th.Property("received_at", th.DateTimeType, description="When the receiver stored it (UTC)"),
    th.Property("contact_uuid", th.StringType),
    th.Property("remote_id", th.StringType),
    th.Property("email", th.StringType),
    th.Property("form_uuid", th.StringType),
    th.Property("response_uuid", th.StringType),
    th.Property("segment_uuids", th.ArrayType(th.StringType)),
    th.Property("payload", th.ObjectType(), description="The webhook body, every key kept"),
).to_dict()


class WebhookEventsStream(SummarizedStream):
    """Webhook events from the receiver's store (SQLite or PostgreSQL), incremental on ``seq``."""

    name = "webhook_events"
    primary_keys: ClassVar[list[str]] = ["seq"]
    replication_key = "seq"
    is_sorted = True  # seq order: an interrupted sync resumes from its last bookmark
    schema = SCHEMA
    # Records are built in exactly the schema's shape; the SDK's recursive conformance would
    # only re-copy every payload.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def _trusted_bookmark(self, context: Context | None, store_id: str | None) -> int:
        """The ``seq`` to read after: the bookmark, if it was taken from this very store."""
        # The SDK seeds every incremental stream with `start_date` when there is no bookmark;
        # a date means "no seq bookmark yet" here: the store only holds what was received.
        after = self.get_starting_replication_key_value(context)
        after_seq = after if isinstance(after, int) and not isinstance(after, bool) else 0
        state = self.get_context_state(context)
        bookmark_id = state.get("store_id")
        if after_seq and (store_id is None or bookmark_id != store_id):
            self.logger.warning(
                "The webhook_events bookmark (seq %d) was taken from store %s, but %s is store "
                "%s: reading it from the beginning so no event is skipped.",
                after_seq,
                bookmark_id or "(no id)",
                masked(str(self.config.get("webhook_store"))),
                store_id or "(no id)",
            )
            after_seq = 0
            state.pop("replication_key_value", None)  # seq restarts: not an unsorted stream
            state.pop("starting_replication_value", None)
        if store_id is not None:
            state["store_id"] = store_id
        return after_seq

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Stored events after the bookmark, oldest first."""
        store = self.config.get("webhook_store")
        if not store:
            self.logger.info(
                "Skipping stream webhook_events: setting `webhook_store` is not set. To enable "
                "it, run `refiner-webhooks serve --store PATH` and set `webhook_store` to PATH."
            )
            return
        path = Path(store).expanduser()
        if not is_postgres(store) and not path.is_file():
            msg = (
                f"Setting `webhook_store` points at {path.resolve()}, which does not exist. "
                f"Start the receiver once (`refiner-webhooks serve --store {store}`) so it "
                "creates the store, or unset `webhook_store` to skip the webhook_events stream."
            )
            raise RunStoppedError(msg)
        after_seq = self._trusted_bookmark(context, read_store_id(store, setting=SETTING))
        for event in read_events(store, after_seq=after_seq, setting=SETTING):
            yield {
                "seq": event["seq"],
                "event_type": event["triggered_event"],
                "received_at": event["received_at"],
                "contact_uuid": event["contact_uuid"],
                "remote_id": event["remote_id"],
                "email": event["email"],
                "form_uuid": event["form_uuid"],
                "response_uuid": event["response_uuid"],
                "segment_uuids": event["segment_uuids"],
                "payload": event["payload"],
            }
