"""Streams read from a store of ours by ``seq``, with the store's identity in the bookmark.

``webhook_events`` (the receiver's store) and the sync-log streams (target-refiner's ledger
database) read the same way: rows with ``seq`` above the bookmark, in ``seq`` order, from a
SQLite file or a PostgreSQL database a setting names. Writers make ``seq`` visible in increasing
order, so the bookmark never skips a row.

- The setting unset: the stream yields nothing and logs how to enable it.
- The setting naming a file that does not exist: the run stops with one line naming the setting,
  because a wrong path would otherwise look like "nothing new" and silently lose data.
- The bookmark carries the store's identity (``store_id`` next to the ``seq``). A bookmark from
  another store (recreated, so its ``seq`` restarted), or from a store or a bookmark without an
  id, is not trusted: the stream reads from the beginning with a warning naming both ids.
  Re-reading is harmless downstream (the stream's key deduplicates); skipping is not.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from refiner_http.stops import RunStoppedError
from refiner_stores.location import is_postgres, masked
from tap_refiner.run_summary import SummarizedStream

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context


class StoreStream(SummarizedStream):
    """A stream of a store's rows after the bookmark's ``seq``, oldest first."""

    #: The setting naming the store (a SQLite path or a ``postgresql://`` URL).
    store_setting: ClassVar[str]
    replication_key = "seq"
    is_sorted = True  # seq order: an interrupted sync resumes from its last bookmark
    # Records are built in exactly the schema's shape; the SDK's recursive conformance would
    # only re-copy every row.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    @abstractmethod
    def skip(self) -> None:
        """Log that the setting is unset and how to set it."""

    @abstractmethod
    def missing_file_message(self, path: Path) -> str:
        """The stop's line when the setting names a file that does not exist."""

    @abstractmethod
    def read_store_id(self, store: str) -> str | None:
        """The store's identity, or None for a store that has none."""

    @abstractmethod
    def read_after(self, store: str, after_seq: int) -> Iterable[dict[str, Any]]:
        """The records of the rows with ``seq > after_seq``, in ``seq`` order."""

    def _trusted_bookmark(self, context: Context | None, store_id: str | None) -> int:
        """The ``seq`` to read after: the bookmark, if it was taken from this very store."""
        # The SDK seeds every incremental stream with `start_date` when there is no bookmark;
        # a date means "no seq bookmark yet" here: the store only holds what was written.
        after = self.get_starting_replication_key_value(context)
        after_seq = after if isinstance(after, int) and not isinstance(after, bool) else 0
        state = self.get_context_state(context)
        bookmark_id = state.get("store_id")
        if after_seq and (store_id is None or bookmark_id != store_id):
            self.logger.warning(
                "The %s bookmark (seq %d) was taken from store %s, but %s is store %s: "
                "reading it from the beginning so no row is skipped.",
                self.name,
                after_seq,
                bookmark_id or "(no id)",
                masked(str(self.config.get(self.store_setting))),
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
        """The store's rows after the bookmark, oldest first."""
        store = self.config.get(self.store_setting)
        if not store:
            self.skip()
            return
        path = Path(store).expanduser()
        if not is_postgres(store) and not path.is_file():
            raise RunStoppedError(self.missing_file_message(path))
        after_seq = self._trusted_bookmark(context, self.read_store_id(store))
        yield from self.read_after(store, after_seq)
