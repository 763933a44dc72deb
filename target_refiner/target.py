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

A mirror_segment stream (``mirror.py``) holds every STATE after its SCHEMA until its segment's
diff is applied at the end of the input; the SDK's drains write STATE through the same
``AckTracker``, so they cannot slip one past it.

A dry run never emits STATE, so it cannot move a bookmark past rows it did not send. With
``max_reject_ratio`` set, STATE is held until the end-of-run check passes. A run that cannot go
on (bad key or URL, an answer about the endpoint, the ledger in use, SIGTERM) stops with one
line and a non-zero exit, and never emits a STATE past an unacknowledged row.

This module is the plugin class: it hands the SDK's hooks to ``settings.py`` (schema, checks),
``runtime.py`` (the run's wiring), ``state.py`` (when STATE goes out) and ``sinks.py`` (rows);
the private SDK members it relies on are listed in ``sdk_private.py``.
"""

from __future__ import annotations

import copy
import signal
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk.helpers.capabilities import PluginCapabilities
from singer_sdk.target_base import Target
from typing_extensions import override

from refiner_http.settings import raise_if_invalid
from refiner_http.stops import known_stops_exit
from target_refiner.errors import RunInterruptedError, RunStoppedError
from target_refiner.interrupt import InterruptibleReader
from target_refiner.progress import StreamRejectedError
from target_refiner.runtime import Runtime
from target_refiner.settings import CONFIG_SCHEMA, check_settings, settings_from_config
from target_refiner.sinks import RefinerSink
from target_refiner.state import StateOutbox

if TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers.capabilities import CapabilitiesEnum


class TargetRefiner(Target):
    """Reverse ETL into Refiner: identify users, track events, sync segments, delete contacts."""

    name = "target-refiner"
    #: Our distribution: `--about` and the first log line show its installed version.
    package_name = "refiner-singer"
    default_sink_class = RefinerSink
    #: BATCH messages (JSONL files from a batch-capable tap) are replayed row by row;
    #: ACTIVATE_VERSION tells a mirror_segment stream which rows are the complete list.
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        *Target.capabilities,
        PluginCapabilities.BATCH,
        PluginCapabilities.ACTIVATE_VERSION,
    ]

    config_jsonschema = CONFIG_SCHEMA
    message_reader_class = InterruptibleReader

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        """Validate settings beyond JSON schema before anything is sent."""
        super().__init__(*args, **kwargs)
        raise_if_invalid(check_settings(self.config))
        self.settings = settings_from_config(self.config)
        self.state_outbox = StateOutbox(
            super()._write_state_message,
            hold=self.settings.max_reject_ratio is not None,
            dry_run=self.settings.dry_run,
            log=self.logger,
        )
        if isinstance(self.message_reader, InterruptibleReader):
            self.message_reader.on_start = lambda: self.runtime
            self.message_reader.on_error = self._input_failed

    @cached_property
    def runtime(self) -> Runtime:
        """Built before the first input line (``InterruptibleReader.on_start``)."""
        return Runtime(self, self.settings)

    # -- input: RECORD and BATCH rows take one path (issue 8) -----------------------------
    #: The row being processed as it arrived, before stream maps and parsing (a reference, not
    #: a copy): what ``RefinerSink`` dead-letters and hands to the sender.
    arrived_record: dict | None = None
    #: The table version that row's RECORD message carried (ACTIVATE_VERSION), if any.
    arrived_version: object = None

    @override
    def _process_record_message(self, message_dict: dict) -> None:
        """Remember the row as it arrived, then let the SDK map, check and validate it."""
        self.arrived_record = message_dict.get("record")
        self.arrived_version = message_dict.get("version")
        try:
            super()._process_record_message(message_dict)
        finally:
            self.arrived_record = None
            self.arrived_version = None

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
        with known_stops_exit(cls.logger):
            super().invoke(**kwargs)

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
        value = copy.deepcopy(message_dict["value"])
        self.runtime.mirror.observe_state(value, self._stream_aliases)
        self.runtime.tracker.add_state(value)

    def _stream_aliases(self, stream: str) -> list[str]:
        """The sink names a tap stream's rows reach (stream maps may rename it)."""
        maps = self.mapper.stream_maps.get(stream)
        return [m.stream_alias for m in maps] if maps else [stream]

    def emit_state(self, state: dict) -> None:
        """Write a STATE the tracker released (any thread); never the same one twice in a row."""
        self.state_outbox.put(state)

    @override
    def _write_state_message(self, state: dict) -> None:
        """The SDK's drains write STATE here: queued like any STATE (``state.AckTracker``).

        Every row but a mirror's is acknowledged when a drain writes; a mirror's hold is not.
        """
        if "runtime" in self.__dict__:
            self.runtime.tracker.add_state(state)
        else:
            self.state_outbox.put(state)

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
        ending: BaseException | None = None
        try:
            if self._signum() is None:
                super().process_endofpipe()  # drains: waits for every acknowledgement
                # A run that rejected too many rows never mirrors (a rejected row names nobody).
                runtime.progress.check_reject_ratio(final=True)
                runtime.mirror.apply(interrupted=lambda: self._signum() is not None)
            if self._signum() is not None:
                runtime.sender.interrupt()
                runtime.sender.raise_if_failed()
            runtime.progress.check_reject_ratio(final=True)
            self.state_outbox.release()
            ending = self._ending(runtime)
        except BaseException as exc:
            ending = exc
            raise
        finally:
            runtime.close(ending)  # the sync log records how the run ended
            self._log_summary(runtime)
        if ending is not None:
            raise ending

    def _ending(self, runtime: Runtime) -> RunStoppedError | None:
        """How a run whose input ended stops: interrupted, a stream all rejected, or not."""
        signum = self._signum()
        if signum is not None:
            left = runtime.tracker.outstanding
            unapplied = runtime.mirror.unapplied
            mirrors = f" The mirror of {unapplied} was not finished." if unapplied else ""
            msg = (
                f"Interrupted by {signal.Signals(signum).name}: the calls in flight finished and "
                f"the last STATE emitted covers every acknowledged row; {left} rows read were not "
                f"sent.{mirrors} Run again to continue from that STATE."
            )
            return RunInterruptedError(signum, msg)
        try:
            runtime.progress.raise_if_streams_rejected()
        except StreamRejectedError as exc:
            return exc
        return None

    def _input_failed(self, exc: BaseException) -> None:
        """The input stopped on an error: the sync log records the run failed (if it started)."""
        if "runtime" in self.__dict__:
            self.runtime.end_sync_log(exc)

    def _signum(self) -> int | None:
        """The signal that ended the input, if one did."""
        signum = getattr(self.message_reader, "signum", None)
        return signum if isinstance(signum, int) else None

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
