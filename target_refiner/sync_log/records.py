"""What the target writes to the sync log, and what a backend (SQLite or PostgreSQL) offers.

The tables and their vocabulary are ``refiner_stores.sync_log`` (the tap reads them too). A
backend writes :class:`RunRecord` and :class:`Change` rows there; the recorder decides what they
say. Times are timezone-aware UTC datetimes; a backend stores them as its tables say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol

from refiner_stores.sync_log import RUNNING

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence


class Change(NamedTuple):
    """One changelog row: a row processed (or a mirror change) and what came of it.

    A tuple in the changelog's column order (after ``logged_at``): a backend writes a batch as
    one JSON array of these (``sql.py``), and one is made per row processed, so it is cheap.
    """

    stream: str
    row_key: str  # JSON object text, masked like the dead-letter file
    user_id: str | None
    email: str | None
    action: str  # refiner_stores.sync_log.ACTIONS
    outcome: str  # refiner_stores.sync_log.OUTCOMES
    http_status: int | None = None
    message: str | None = None


@dataclass
class RunRecord:
    """One ``refiner_sync_runs`` row: written at the start, rewritten at the end."""

    project: str
    run_id: str
    started_at: dt.datetime
    settings_fingerprint: str
    api_url: str  # without credentials
    host: str
    pid: int
    status: str = RUNNING
    finished_at: dt.datetime | None = None
    exit_code: int | None = None
    message: str | None = None
    #: ``{stream: {"rows_in", "sent", "unchanged", "replays", "rejected"}}``
    streams: dict[str, dict[str, int]] = field(default_factory=dict)
    #: ``{segment_uuid: {"members", "adds", "removes", "applied_adds", "applied_removes"}}``
    mirror: dict[str, dict[str, int]] = field(default_factory=dict)


class SyncLogStore(Protocol):
    """A sync-log backend; one writer per project (the caller holds the ledger's lock)."""

    #: The store's identity (``refiner_stores.sync_log.META_STORE_ID``).
    store_id: str

    def start_run(self, run: RunRecord) -> list[str]:
        """Mark ``run.project``'s runs still ``running`` failed, then write ``run``.

        Returns the run ids so marked: their process died without writing its end.
        """

    def log(self, run: RunRecord, changes: Sequence[Change], logged_at: dt.datetime) -> None:
        """Append ``changes`` to the changelog and make them the snapshot, in one transaction."""

    def end_run(self, run: RunRecord) -> None:
        """Rewrite ``run``'s row (status, end, exit code, counts) with a new ``seq``."""

    def prune(self, project: str, before: dt.datetime) -> int:
        """Delete ``project``'s runs and changelog rows older than ``before``; how many went.

        The newest run row is always kept (``seq`` of the runs table continues from it).
        """

    def close(self) -> None:
        """Release the backend's connection."""
