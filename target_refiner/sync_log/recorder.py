"""What a run writes to its sync log: the run's row, and one changelog row per row processed.

The run's threads note outcomes where they become final: each becomes its
:class:`~target_refiner.sync_log.records.Change` row there (a tuple of text, the record not
kept) and is appended under a lock; one writer thread masks and writes them in batches
(``FLUSH_ROWS`` or every ``FLUSH_SECONDS``), so logging a re-sync of unchanged rows costs
little. At most ``MAX_BUFFERED`` outcomes wait: a slow store slows the run rather than growing
memory.

Where outcomes are noted (why the counts equal the summary line's): exactly where
``progress.py`` counts them. The sender's committer notes a call ``applied`` only after its
ledger commit, i.e. once Refiner acknowledged it; a row the ledger makes needless is
``unchanged`` or ``replay``; a row dead-lettered is ``rejected`` with the dead-letter reason; a
call that stopped the run (its fate unknown) is ``failed``. Rows read but never sent when a run
stops (SIGTERM, a failure) are not logged: the run's counts show them.

A store that cannot be written stops the run (:class:`SyncLogError`, one line, exit 1).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

from typing_extensions import override

from refiner_http.stops import EXIT_FAILED, RunInterruptedError, RunStoppedError, stop_line
from refiner_stores import sync_log as vocab
from target_refiner.deadletter import holds_secret, masked_line, plain_line
from target_refiner.mapping_settings import (
    ADD_TO_SEGMENT,
    DELETE_CONTACT,
    IDENTIFY,
    MIRROR_SEGMENT,
    REMOVE_FROM_SEGMENT,
    TRACK,
)
from target_refiner.sync_log.records import Change, RunRecord

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterable, Mapping

    from refiner_http import Redactor
    from target_refiner.mapping import ApiCall
    from target_refiner.mapping_settings import StreamMapping
    from target_refiner.progress import StreamCounts
    from target_refiner.sync_log.records import SyncLogStore

FLUSH_ROWS = 5000
FLUSH_SECONDS = 1.0
MAX_BUFFERED = 50_000

#: How the sender and the sinks say what became of a row -> (action, outcome); None: the call's.
KINDS: dict[str, tuple[str | None, str]] = {
    "sent": (None, vocab.APPLIED),
    "skipped": (vocab.UNCHANGED, vocab.APPLIED),
    "replayed": (vocab.REPLAY, vocab.APPLIED),
    "rejected": (None, vocab.REJECTED),
    "failed": (None, vocab.FAILED_OUTCOME),
    "planned": (None, vocab.PLANNED),
}
#: A mapping's action -> the sync log's call name (mirror_segment: by its method).
CALL_ACTIONS = {
    IDENTIFY: vocab.IDENTIFY,
    TRACK: vocab.TRACK,
    ADD_TO_SEGMENT: vocab.SEGMENT_ADD,
    REMOVE_FROM_SEGMENT: vocab.SEGMENT_REMOVE,
    DELETE_CONTACT: vocab.DELETE,
}

#: One noted outcome: stream, row as it arrived, its call (None: rejected before one), kind,
#: HTTP status, message.
Noted: TypeAlias = "tuple[str, Mapping[str, Any], ApiCall | None, str, int | None, str | None]"


class SyncLogNotes:
    """What the run's threads tell the sync log; this base keeps nothing (``sync_log: false``).

    :class:`SyncLogRecorder` writes it.
    """

    def stream(
        self, stream: str, key_properties: Iterable[str], mapping: StreamMapping | None
    ) -> None:
        """A stream's key properties (its rows' ``row_key``) and mapping (who a row names)."""

    def note(  # noqa: PLR0913 - one changelog row's facts
        self,
        stream: str,
        record: Mapping[str, Any],
        call: ApiCall | None,
        kind: str,
        *,
        status: int | None = None,
        message: str | None = None,
    ) -> None:
        """One row's outcome (``kind``: ``KINDS``)."""
        self.note_all([(stream, record, call, kind, status, message)])

    def note_all(self, noted: Iterable[Noted]) -> None:
        """Several outcomes at once (a generator passed here is not even read)."""


#: A stream never announced: no key properties (its whole row is the key), no mapping.
NO_KEYS: tuple[tuple[str, ...], None] = ((), None)


class SyncLogError(RunStoppedError):
    """The sync log cannot be written: the run stops (turn ``sync_log`` off to run without)."""


def call_action(call: ApiCall | None) -> str:
    """The sync log's name for the call a row made (``none``: rejected before any call)."""
    if call is None:
        return vocab.NO_CALL
    if call.action == MIRROR_SEGMENT:
        return vocab.MIRROR_REMOVE if call.method == "DELETE" else vocab.MIRROR_ADD
    return CALL_ACTIONS.get(call.action, call.action)


def settings_fingerprint(mappings: object, default_action: object, api_url: str) -> str:
    """sha256 of the canonical JSON of the settings that decide what a run sends; no secret."""
    canonical = json.dumps(
        {"mappings": mappings, "default_action": default_action, "api_url": api_url},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def url_without_credentials(url: str) -> str:
    """``https://user:pw@host/x`` -> ``https://host/x`` (a query or fragment is dropped too)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class SyncLogRecorder(SyncLogNotes):
    """One run's sync log: its row at the start and the end, its changes in between."""

    def __init__(  # noqa: PLR0913 - the run's identity and what the log is kept for
        self,
        store: SyncLogStore,
        run: RunRecord,
        redactor: Redactor,
        *,
        retention_days: int,
        dry_run: bool,
        log: logging.Logger,
    ) -> None:
        """Write the run's start (marking runs that died failed), then start the writer."""
        self.store = store
        self.run = run
        self.redactor = redactor
        self.retention_days = retention_days
        self.dry_run = dry_run
        self.log = log
        self._keys: dict[str, tuple[tuple[str, ...], StreamMapping | None]] = {}
        self._buffer: list[Change] = []
        self._cond = threading.Condition()
        self._stop = False
        self._error: BaseException | None = None
        try:
            self._guarded(lambda: self._start_run(store, run))
        except BaseException:
            store.close()
            raise
        self._writer = threading.Thread(target=self._write_loop, name="sync-log", daemon=True)
        self._writer.start()

    def _start_run(self, store: SyncLogStore, run: RunRecord) -> None:
        for stale in store.start_run(run):
            self.log.warning("Sync log: run %s ended without finishing; marked failed", stale)

    # -- noting outcomes (any thread) -----------------------------------------------------
    @override
    def stream(
        self, stream: str, key_properties: Iterable[str], mapping: StreamMapping | None
    ) -> None:
        self._keys[stream] = (tuple(key_properties), mapping)

    @override
    def note_all(self, noted: Iterable[Noted]) -> None:
        """Several outcomes at once; waits while ``MAX_BUFFERED`` are waiting to be written.

        Each becomes its changelog row here, while its record is fresh, and the record is not
        kept: the records of a batch waiting for the writer would outlive their rows and make
        the garbage collector's full passes slower and more frequent (``bench/target_resync.py``).
        """
        changes = list(map(self._change, noted))
        with self._cond:
            self._raise_if_failed()
            self._buffer.extend(changes)
            if len(self._buffer) >= FLUSH_ROWS:
                self._cond.notify_all()
            while len(self._buffer) >= MAX_BUFFERED and self._error is None and not self._stop:
                self._cond.wait(timeout=1)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise SyncLogError(self._message(self._error)) from None

    # -- the writer thread ----------------------------------------------------------------
    def _write_loop(self) -> None:
        while True:
            with self._cond:
                due = time.monotonic() + FLUSH_SECONDS
                while not self._stop and len(self._buffer) < FLUSH_ROWS:
                    left = due - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(timeout=left)
                batch, self._buffer = self._buffer, []
                stop = self._stop
                self._cond.notify_all()
            if batch and self._error is None:
                try:
                    self.store.log(self.run, self._masked(batch), _now())
                except BaseException as exc:  # noqa: BLE001 - the next note raises it
                    with self._cond:
                        self._error = exc
                        self._cond.notify_all()
            if stop:
                return

    def _change(self, noted: Noted) -> Change:
        """One noted outcome's changelog row, not masked yet (the writer masks a batch)."""
        stream, record, call, kind, status, message = noted
        keys, mapping = self._keys.get(stream, NO_KEYS)
        action, outcome = KINDS[kind]
        user_id, email = _person(record, call, mapping)
        key = _key_of(record, keys)
        try:
            row_key = plain_line(key)
        except ValueError:  # a NaN or an infinity: written as a string
            row_key = masked_line(key, self.redactor)
        return Change(
            stream, row_key, user_id, email, action or call_action(call), outcome, status, message
        )

    def _masked(self, batch: list[Change]) -> list[Change]:
        """``batch`` masked like the dead-letter file; row by row only if one search finds a secret.

        The writer's per-row work holds the GIL the run's main thread needs, so a batch without
        a secret (nearly every one) costs one search (``bench/target_resync.py``).
        """
        texts = (t for c in batch for t in (c.row_key, c.user_id, c.email, c.message) if t)
        if not holds_secret(texts, self.redactor):
            return batch
        mask = self.redactor.mask_known
        return [
            change._replace(
                row_key=masked_line(_loads(change.row_key), self.redactor),
                user_id=change.user_id and mask(change.user_id),
                email=change.email and mask(change.email),
                message=change.message and mask(change.message),
            )
            for change in batch
        ]

    # -- the end ----------------------------------------------------------------------------
    def finish(
        self,
        outcome: BaseException | None,
        streams: Mapping[str, StreamCounts],
        mirror: Mapping[str, dict[str, int]],
    ) -> None:
        """Write what is buffered, then the run's end and counts; drop what retention ends.

        ``outcome``: the exception the run ends with (None: it finished).
        """
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._writer.join()
        run = self.run
        run.status, run.exit_code, run.message = self._ending(outcome)
        run.finished_at = _now()
        run.streams = {name: _counts(c) for name, c in sorted(streams.items())}
        run.mirror = {segment: dict(figures) for segment, figures in mirror.items()}
        self._guarded(self._raise_if_failed)
        self._guarded(lambda: self.store.end_run(run))
        before = run.finished_at - dt.timedelta(days=self.retention_days)
        self._guarded(lambda: self.store.prune(run.project, before))

    def _ending(self, outcome: BaseException | None) -> tuple[str, int, str | None]:
        """status, exit code, stop line."""
        if outcome is None:
            return (vocab.DRY_RUN if self.dry_run else vocab.FINISHED), 0, None
        stop = stop_line(outcome)
        line, code = stop if stop is not None else (repr(outcome), EXIT_FAILED)
        status = vocab.INTERRUPTED if isinstance(outcome, RunInterruptedError) else vocab.FAILED
        return status, code, self.redactor(line)

    def close(self) -> None:
        """Release the store (after :meth:`finish`, or when the run could not start)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self.store.close()

    def _guarded(self, step: Callable[[], object]) -> None:
        """Run a store step; its failure is the run's stop (one line naming the store)."""
        try:
            step()
        except SyncLogError:
            raise
        except Exception as exc:  # noqa: BLE001 - any store failure (disk, driver) is the stop
            raise SyncLogError(self._message(exc)) from None

    def _message(self, exc: BaseException) -> str:
        return self.redactor(
            f"Cannot write the sync log (setting `sync_log`; false runs without it): {exc}"
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _counts(c: StreamCounts) -> dict[str, int]:
    """The summary line's numbers, by the sync log's names."""
    return {
        "rows_in": c.rows_in,
        "sent": c.sent,
        "unchanged": c.skipped,
        "replays": c.replayed,
        "rejected": c.rejected,
    }


def _loads(row_key: str) -> dict[str, Any]:
    """A row key's object again, numbers exact (``masked_line`` rewrites it as it did)."""
    obj: dict[str, Any] = json.loads(row_key, parse_float=decimal.Decimal)
    return obj


def _key_of(record: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """A row's ``row_key`` object: its key properties, or the whole row without one of them."""
    if len(keys) == 1:  # the usual case, without a generator
        name = keys[0]
        if name in record:
            return {name: record[name]}
    elif keys and all(k in record for k in keys):
        return {k: record[k] for k in keys}
    return dict(record)


def _person(
    record: Mapping[str, Any], call: ApiCall | None, mapping: StreamMapping | None
) -> tuple[str | None, str | None]:
    """The user id and email a row names: its call's identifiers, else its mapped fields."""
    user_id = email = None
    if call is not None:
        for name in call.identifiers or (call.user_key,):
            if name.startswith("id:"):
                user_id = user_id or name[3:]
            elif name.startswith("email:"):
                email = email or name[6:]
        return user_id, email
    if mapping is not None:
        user_id = _first(record, mapping.user_id)
        email = _first(record, mapping.email)
    return user_id, email


def _first(record: Mapping[str, Any], fields: tuple[str, ...]) -> str | None:
    for name in fields:
        value = record.get(name)
        if value is not None and not isinstance(value, (dict, list)):
            return str(value)
    return None


def new_run_record(
    project: str,
    run_id: str,
    *,
    api_url: str,
    mappings: object,
    default_action: object,
) -> RunRecord:
    """The run's row as it starts: who runs it, where, under which settings (no secret)."""
    url = url_without_credentials(api_url)
    return RunRecord(
        project=project,
        run_id=run_id,
        started_at=_now(),
        settings_fingerprint=settings_fingerprint(mappings, default_action, url),
        api_url=url,
        host=socket.gethostname(),
        pid=os.getpid(),
    )
