"""The run's wiring: one HTTP client, ledger (and its lock), dead-letter file, progress, sender.

Built once, before the first input line is read (``InterruptibleReader.on_start``): the key and
URL are checked first (``GET {api_url}/``), so a wrong key or an ``api_url`` that is not Refiner
stops the run with one line before anything is read, sent or written; so does a mirror_segment
mapping whose constant ``segment_uuid`` is not a manual segment (``GET /segments``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from refiner_http import Redactor, RefinerAuthError, RefinerClient, RefinerEndpointError
from refiner_http.policy import RETRYABLE_EXCEPTIONS
from refiner_http.settings import policy_from_config, store_secrets
from refiner_stores import StoreError
from target_refiner.deadletter import DeadLetter, JsonLines, new_run_id
from target_refiner.errors import RunStoppedError
from target_refiner.ledger.files import take_ledger
from target_refiner.ledger.postgres import take_postgres_ledger
from target_refiner.ledger.sqlite import Ledger, legacy_ledger_path
from target_refiner.mapping_settings import NO_ACTION
from target_refiner.members import SegmentCatalog
from target_refiner.mirror import Mirror
from target_refiner.people import People
from target_refiner.progress import Progress
from target_refiner.sender import DryRunSender, Sender
from target_refiner.state import AckTracker
from target_refiner.sync_log.open import open_sync_log
from target_refiner.sync_log.recorder import (
    SyncLogError,
    SyncLogNotes,
    SyncLogRecorder,
    new_run_record,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from refiner_http import HttpPolicy
    from target_refiner.ledger.keys import LedgerStore
    from target_refiner.ledger.lock import LedgerLock
    from target_refiner.ledger.postgres import PostgresLedgerLock
    from target_refiner.settings import Settings
    from target_refiner.target import TargetRefiner

#: Loggers whose lines could carry the key; each gets the run's redacting filter.
REDACTED_LOGGERS = ("refiner_http", "urllib3")


class Runtime:
    """Everything a run shares; :meth:`close` releases it all (idempotent)."""

    ledger: LedgerStore
    lock: LedgerLock | PostgresLedgerLock
    #: The Refiner project the ledger belongs to (without one: the ledger's legacy name).
    project: str
    sync_log: SyncLogRecorder | SyncLogNotes

    def __init__(self, target: TargetRefiner, settings: Settings) -> None:
        """Check the API, take the ledger, and start the shared pieces."""
        config = target.config
        log = target.logger
        api_key = str(config["api_key"])
        self.redactor = Redactor(store_secrets(config))
        self._filters = [
            (logger, self.redactor.logging_filter())
            for logger in (log, *map(logging.getLogger, REDACTED_LOGGERS))
        ]
        for logger, log_filter in self._filters:
            logger.addFilter(log_filter)
        self.closed = False
        self.dry_run = settings.dry_run
        self.client = RefinerClient(
            api_key,
            settings.api_url,
            policy=self._policy(config, log),
            timeout=settings.request_timeout,
            pool_size=settings.max_concurrency,
            log=log,
        )
        self.catalog = SegmentCatalog(self.client)
        self._take_ledger(settings, api_key, log)
        self._open_outputs(target, settings, log)
        self._start_sync_log(target.config, settings, log)
        self.tracker = AckTracker(target.emit_state)
        self.sender = self._sender(settings, log)
        self.log = log
        self.mirror = Mirror(self, settings)
        self.progress.start()

    def _take_ledger(self, settings: Settings, api_key: str, log: logging.Logger) -> None:
        """Check the key and the mappings, then lock and open the Refiner project's ledger."""
        try:
            project = self._check_api(settings.api_url, log)
            self.catalog.check_mappings(settings.mappings)
            self.project = (
                project or legacy_ledger_path(settings.state_dir, settings.api_url, api_key).stem
            )
            if settings.ledger_url:
                self._take_postgres_ledger(settings)
                return
            path, self.lock = take_ledger(
                settings.state_dir,
                project,
                api_url=settings.api_url,
                api_key=api_key,
                wait_seconds=settings.ledger_wait_seconds,
                log=log,
            )
        except BaseException:
            self._release_early()
            raise
        try:
            self.ledger = Ledger(path, project=project)
        except BaseException:
            self.lock.release()
            self._release_early()
            raise
        self.people = People(self.ledger)

    def _take_postgres_ledger(self, settings: Settings) -> None:
        """``ledger_url``: the project's rows in PostgreSQL (no project: named like the file)."""
        url = str(settings.ledger_url)
        try:
            self.ledger, self.lock = take_postgres_ledger(
                url, self.project, wait_seconds=settings.ledger_wait_seconds
            )
        except StoreError as exc:
            raise RunStoppedError(self.redactor(str(exc))) from None
        self.people = People(self.ledger)

    def _open_outputs(self, target: TargetRefiner, settings: Settings, log: logging.Logger) -> None:
        """The dead-letter file, under this run's id, and the progress tallies."""
        # Files mask only the settings marked secret (no guessing by shape: see deadletter.py).
        self.file_redactor = Redactor.for_settings(target.config, target.config_jsonschema)
        self.run_id = new_run_id()
        log.info("Run id %s: the run_id of this run's dead-letter and dry-run lines", self.run_id)
        self.dead_letter = DeadLetter(
            settings.dead_letter_path, self.file_redactor, run_id=self.run_id
        )
        self.progress = Progress(
            log,
            interval=settings.progress_interval_seconds,
            max_reject_ratio=settings.max_reject_ratio,
            dead_letter_hint=str(settings.dead_letter_path),
            mapped=frozenset(settings.mappings),
            default_action=settings.default.action if settings.default else NO_ACTION,
            dry_run=settings.dry_run,
        )

    def _start_sync_log(
        self, config: Mapping[str, Any], settings: Settings, log: logging.Logger
    ) -> None:
        """The run's sync log, started under the ledger's lock (``sync_log: false``: none).

        A store that cannot be opened or written stops the run before any input is read.
        """
        self.sync_log = SyncLogNotes()
        if not settings.sync_log:
            return
        run = new_run_record(
            self.project,
            self.run_id,
            api_url=settings.api_url,
            mappings=config.get("mappings"),
            default_action=config.get("default_action"),
        )
        try:
            store = open_sync_log(self.ledger)
            self.sync_log = SyncLogRecorder(
                store,
                run,
                self.file_redactor,
                retention_days=settings.sync_log_retention_days,
                dry_run=settings.dry_run,
                log=log,
            )
        except BaseException as exc:
            self.ledger.close()
            self.lock.release()
            self._release_early()
            if isinstance(exc, StoreError | OSError):  # opening it (SyncLogError: writing it)
                msg = (
                    f"Cannot write the sync log (setting `sync_log`; false runs without it): {exc}"
                )
                raise SyncLogError(self.redactor(msg)) from None
            raise

    def _policy(self, config: Mapping[str, Any], log: logging.Logger) -> HttpPolicy:
        """The run's HTTP policy; a pacing store that cannot be opened stops the run."""
        try:
            return policy_from_config(config, log=log, redactor=self.redactor)
        except StoreError as exc:
            self._remove_filters()
            raise RunStoppedError(self.redactor(str(exc))) from None

    def _sender(self, settings: Settings, log: logging.Logger) -> Sender | DryRunSender:
        """The threaded sender, or in a dry run the writer of would-be calls."""
        if settings.dry_run:
            # Written afresh: the file shows this dry run's calls, never an earlier run's.
            out = JsonLines(
                settings.dry_run_path, self.file_redactor, run_id=self.run_id, fresh=True
            )
            return DryRunSender(
                self.ledger,
                self.people,
                out,
                self.progress,
                self.sync_log,
                full_resend=settings.full_resend,
            )
        return Sender(
            self.client,
            self.ledger,
            self.dead_letter,
            self.progress,
            self.tracker,
            people=self.people,
            sync_log=self.sync_log,
            max_concurrency=settings.max_concurrency,
            full_resend=settings.full_resend,
            log=log,
        )

    def _check_api(self, api_url: str, log: logging.Logger) -> str | None:
        """Refiner's key check: the key's project uuid (None when the answer names none).

        A wrong key or URL becomes one clear line (RunStoppedError).
        """
        try:
            answer = self.client.check_api()
        except (RefinerAuthError, RefinerEndpointError) as exc:
            msg = f"Cannot use `api_url` {api_url}: {exc}"
            raise RunStoppedError(self.redactor(msg)) from None
        except RETRYABLE_EXCEPTIONS as exc:
            msg = f"Cannot use `api_url` {api_url}: {self.client.policy.gave_up(exc)}"
            raise RunStoppedError(self.redactor(msg)) from None
        log.info(
            "Refiner key check passed: project %r (%s)",
            answer.project_name or "?",
            answer.project_uuid or "no project_uuid",
        )
        return answer.project_uuid

    def _release_early(self) -> None:
        self.client.close()
        self._remove_filters()

    def _remove_filters(self) -> None:
        for logger, log_filter in self._filters:
            logger.removeFilter(log_filter)

    def close(self, ending: BaseException | None = None) -> None:
        """Stop threads, end the sync log, release files and the ledger lock (idempotent).

        ``ending``: what the run ends with (None: it finished); the sync log records it.
        """
        if self.closed:
            return
        self.closed = True
        self.progress.stop()
        self.sender.close()
        self.client.close()
        self.dead_letter.close()
        try:
            self.end_sync_log(ending)
        finally:
            self.ledger.close()
            self.lock.release()
            self._remove_filters()

    def end_sync_log(self, ending: BaseException | None) -> None:
        """Write the run's end (once); a store failure is the run's stop unless it has one."""
        recorder, self.sync_log = self.sync_log, SyncLogNotes()
        if not isinstance(recorder, SyncLogRecorder):
            return
        try:
            recorder.finish(ending, self.progress.per_stream(), self.mirror.figures)
        except SyncLogError as exc:
            if ending is None:
                raise
            self.log.error("%s", exc)  # noqa: TRY400 - the run's own stop follows
        finally:
            recorder.close()
