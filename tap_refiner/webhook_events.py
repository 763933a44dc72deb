"""``webhook_events``: the events ``refiner-webhooks serve`` stored, read incrementally by ``seq``.

Refiner pushes survey completions, segment entries and tags as webhooks, which the REST API
cannot list after the fact. The receiver stores them in SQLite or PostgreSQL; this stream reads
the store read-only, in ``seq`` order, from the last ``seq`` in the state. Writers commit one at
a time (one writer thread; in PostgreSQL also an advisory lock), so ``seq`` values appear in
increasing order and the bookmark never skips one.

How the bookmark and the store's identity work, and what an unset or wrong ``webhook_store``
does, is ``store_streams.StoreStream``'s (shared with the sync-log streams). The receiver
creates the store when it starts, so run it (once) before the tap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import typing as th
from typing_extensions import override

from refiner_webhooks.stores import read_events, read_store_id
from tap_refiner.store_streams import StoreStream

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

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


class WebhookEventsStream(StoreStream):
    """Webhook events from the receiver's store (SQLite or PostgreSQL), incremental on ``seq``."""

    name = "webhook_events"
    primary_keys: ClassVar[list[str]] = ["seq"]
    store_setting = "webhook_store"
    schema = SCHEMA

    @override
    def skip(self) -> None:
        self.logger.info(
            "Skipping stream webhook_events: setting `webhook_store` is not set. To enable "
            "it, run `refiner-webhooks serve --store PATH` and set `webhook_store` to PATH."
        )

    @override
    def missing_file_message(self, path: Path) -> str:
        store = self.config["webhook_store"]
        return (
            f"Setting `webhook_store` points at {path.resolve()}, which does not exist. "
            f"Start the receiver once (`refiner-webhooks serve --store {store}`) so it "
            "creates the store, or unset `webhook_store` to skip the webhook_events stream."
        )

    @override
    def read_store_id(self, store: str) -> str | None:
        return read_store_id(store, setting=SETTING)

    @override
    def read_after(self, store: str, after_seq: int) -> Iterable[dict[str, Any]]:
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
