"""``sync_runs``, ``sync_changelog``, ``sync_snapshot``: target-refiner's sync log, for SQL.

target-refiner records every run and what it did with each row in its ledger's database (the
tables of ``refiner_stores.sync_log``); these streams read them by ``seq`` from the store
``sync_log_store`` names, so ``tap-refiner target-postgres`` lands them next to the Refiner
data. Bookmarks, the store's identity and an unset or wrong setting work as for every store
stream (``store_streams.StoreStream``).

A row the target updates (a run ending, a snapshot row replaced) gets a new ``seq``, so a later
run emits it again, and the stream's key makes the target replace it. ``row_key`` (the row's
key values) is JSON text, written with its keys sorted, because a key property must be a plain
value for warehouse targets; query it with ``row_key::jsonb`` (PostgreSQL) or ``json(row_key)``.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import typing as th
from typing_extensions import override

from refiner_stores import sync_log
from refiner_stores.sync_log_read import HOW_TO_CREATE, TIMESTAMPS, read_rows, read_store_id
from tap_refiner.store_streams import StoreStream
from tap_refiner.timestamps import format_utc

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from singer_sdk import Tap

SYNC_LOG_STORE = th.Property(
    "sync_log_store",
    th.StringType,
    secret=True,  # a PostgreSQL URL may carry a password
    description=(
        "Where target-refiner keeps its sync log (every run, and what it did with each row): "
        "the target's ledger file, `<state_dir>/ledger-project-<uuid>.sqlite` (`state_dir` "
        "defaults to `.target-refiner`; one file per Refiner project, only read here), or "
        "the PostgreSQL URL the target has as `ledger_url` (`postgresql://user:password@host/"
        "db`, the `postgres` extra). When set, the streams `sync_runs`, `sync_changelog` and "
        "`sync_snapshot` emit each new or changed row once; when unset, they are skipped."
    ),
    examples=[
        ".target-refiner/ledger-project-0b7c6a3e-5a43-4ad1-9c51-2f0b1d6f4c11.sqlite",
        "postgresql://refiner@db.internal/refiner",
    ],
)
SETTING = "Setting `sync_log_store`"
STREAM_NAMES = ("sync_runs", "sync_changelog", "sync_snapshot")


def _text(name: str, description: str | None = None, **kwargs: Any) -> th.Property:  # noqa: ANN401
    return th.Property(name, th.StringType, description=description, **kwargs)


def _counts(*names: str) -> th.ObjectType:
    return th.ObjectType(
        additional_properties=th.ObjectType(*(th.Property(n, th.IntegerType) for n in names))
    )


SEQ = th.Property("seq", th.IntegerType, required=True, description="Order of commit in the store")
PROJECT = _text("project", "The Refiner project (uuid) the run wrote to", required=True)
RUN_ID = _text("run_id", "The target run (as on its dead-letter lines)", required=True)

RUNS_SCHEMA = th.PropertiesList(
    SEQ,
    PROJECT,
    RUN_ID,
    th.Property("started_at", th.DateTimeType, description="When the run started (UTC)"),
    th.Property("finished_at", th.DateTimeType, description="When it ended; null while running"),
    _text("status", "running, finished, failed, interrupted or dry_run"),
    th.Property("exit_code", th.IntegerType, description="The target's exit code"),
    _text("message", "The run's stop line when it failed or was interrupted"),
    th.Property(
        "streams",
        _counts("rows_in", "sent", "unchanged", "replays", "rejected"),
        description="Per stream: rows in, sent, unchanged, replays, rejected",
    ),
    th.Property(
        "mirror",
        _counts("members", "adds", "removes", "applied_adds", "applied_removes"),
        description="Per mirrored segment uuid: members, adds and removes planned and applied",
    ),
    _text("settings_fingerprint", "sha256 of the settings that matter (mappings, api_url)"),
    _text("api_url", "The Refiner API the run called (no credentials)"),
    _text("host", "The machine the run ran on"),
    th.Property("pid", th.IntegerType, description="The target's process id"),
).to_dict()

CHANGES_SCHEMA = th.PropertiesList(
    SEQ,
    PROJECT,
    RUN_ID,
    th.Property("logged_at", th.DateTimeType, description="When the outcome was known (UTC)"),
    _text("stream", "The target's input stream", required=True),
    _text(
        "row_key",
        "JSON object of the row's key values (the whole row for a stream without keys), "
        "masked like the dead-letter file; keys sorted",
        required=True,
    ),
    _text("user_id", "The person's user id, if the row named one"),
    _text("email", "The person's email, if the row named one"),
    _text("action", "The call made, or why none: " + ", ".join(sync_log.ACTIONS)),
    _text("outcome", "What came of it: " + ", ".join(sync_log.OUTCOMES)),
    th.Property("http_status", th.IntegerType, description="Refiner's HTTP status, if called"),
    _text("message", "Refiner's message or the dead-letter reason (rejected and failed rows)"),
).to_dict()


class SyncLogStream(StoreStream):
    """One sync-log table, read by ``seq`` from the store ``sync_log_store`` names."""

    store_setting = "sync_log_store"
    #: The table of ``refiner_stores.sync_log`` the stream reads.
    table: ClassVar[str]
    #: Taps already told the setting is unset: one line for the three streams.
    _told: ClassVar[weakref.WeakSet[Tap]] = weakref.WeakSet()

    @override
    def skip(self) -> None:
        if self._tap in self._told:
            return
        self._told.add(self._tap)
        self.logger.info(
            "Skipping streams %s: setting `sync_log_store` is not set. To enable them, set it "
            "to target-refiner's ledger file (`<state_dir>/ledger-project-<uuid>.sqlite`) or "
            "to its `ledger_url`.",
            ", ".join(STREAM_NAMES),
        )

    @override
    def missing_file_message(self, path: Path) -> str:
        return f"{SETTING} points at {path.resolve()}, which does not exist; {HOW_TO_CREATE}."

    @override
    def read_store_id(self, store: str) -> str | None:
        return read_store_id(store, setting=SETTING)

    @override
    def read_after(self, store: str, after_seq: int) -> Iterable[dict[str, Any]]:
        for row in read_rows(store, self.table, after_seq=after_seq, setting=SETTING):
            for name in TIMESTAMPS:
                if row.get(name) is not None:
                    row[name] = format_utc(row[name])
            yield row


class SyncRunsStream(SyncLogStream):
    """``sync_runs``: one row per target run, emitted again when the run ends."""

    name = "sync_runs"
    table = sync_log.RUNS
    primary_keys: ClassVar[list[str]] = ["run_id"]
    schema = RUNS_SCHEMA


class SyncChangelogStream(SyncLogStream):
    """``sync_changelog``: one row per row processed (or mirror change), append-only."""

    name = "sync_changelog"
    table = sync_log.CHANGELOG
    primary_keys: ClassVar[list[str]] = ["seq"]
    schema = CHANGES_SCHEMA


class SyncSnapshotStream(SyncLogStream):
    """``sync_snapshot``: the latest outcome per stream and row key, emitted again when replaced."""

    name = "sync_snapshot"
    table = sync_log.SNAPSHOT
    primary_keys: ClassVar[list[str]] = ["project", "stream", "row_key"]
    schema = CHANGES_SCHEMA


SYNC_LOG_STREAMS = (SyncRunsStream, SyncChangelogStream, SyncSnapshotStream)
