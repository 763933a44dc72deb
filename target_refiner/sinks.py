"""Glue between singer-sdk and the sender: one sink per stream, all sharing one runtime.

Why a ``BatchSink`` whose ``process_record`` sends at once: rows are mapped and handed to the
(asynchronous) sender as they arrive, so calls flow continuously; the SDK's batch machinery is
only used for its drain hook. ``process_batch`` waits until every row handed over is
acknowledged, which makes the SDK's own STATE write in ``drain_all`` (every 5 minutes and at the
end) correct. Prompt STATE emission between drains is ``state.py``'s job.

One path for every row: rows of BATCH files are read here (``batch_rows``) but replayed by the
target as RECORD messages, so they get the same stream maps, key checks, validation and mapping.
What is dead-lettered (or sent on to the sender) is the row as it arrived, before stream maps.

Schema validation: rows that do not match the stream's schema go to the dead-letter file instead
of stopping the run, through a validator wrapper (``get_validator``) that remembers the failure
for ``process_record``.

A mirror_segment stream's rows make no call each: they gather in the run's ``Mirror`` (with the
version their RECORD message carried), which ACTIVATE_VERSION also reaches; ``mirror.py`` diffs
them at the end of the input.
"""

from __future__ import annotations

import gzip
import importlib.util
from typing import TYPE_CHECKING, Any

from singer_sdk.exceptions import InvalidRecord
from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig, StorageTarget
from singer_sdk.singerlib.json import deserialize_json
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator
from typing_extensions import override

from target_refiner.columns import ColumnCheck, MappingColumnsError
from target_refiner.mapping import Rejection, RowMapper
from target_refiner.mapping_settings import MIRROR_SEGMENT

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from target_refiner.audience import Audience
    from target_refiner.target import TargetRefiner


class RememberingValidator(BaseJSONSchemaValidator):
    """Validates like the SDK's validator, but records the failure instead of raising."""

    def __init__(self, inner: BaseJSONSchemaValidator) -> None:
        """Wrap the SDK's validator for this stream."""
        super().__init__(inner.schema)
        self.inner = inner
        self.failed: tuple[int, str] | None = None

    @override
    def validate(self, record: dict) -> None:
        """Validate; on failure remember ``(id(record), message)`` for ``process_record``."""
        self.failed = None
        try:
            self.inner.validate(record)
        except InvalidRecord as exc:
            self.failed = (id(record), exc.error_message)

    def failure_for(self, record: dict) -> str | None:
        """The validation message for this very record, if it failed."""
        if self.failed is not None and self.failed[0] == id(record):
            return self.failed[1]
        return None


class RefinerSink(BatchSink):
    """Maps each row to a Refiner call and hands it to the shared sender."""

    target: TargetRefiner
    # A "full" sink makes the SDK drain it, i.e. wait for every acknowledgement: a stall of the
    # input while the slowest user's queue empties. Rows stream to the sender anyway (bounded by
    # its back-pressure), so drain rarely; ``batch_size_rows`` still overrides this.
    MAX_SIZE_DEFAULT = 100_000

    def __init__(self, target: TargetRefiner, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        """Resolve this stream's mapping once (a new SCHEMA or key list makes a new sink)."""
        self.target = target
        super().__init__(target, *args, **kwargs)
        self.mapping = target.settings.mapping_for(self.stream_name)
        self.mapper = RowMapper(
            self.mapping,
            stream=self.stream_name,
            key_properties=tuple(self.key_properties),
            truncate=target.settings.truncate_long_strings,
        )
        if "runtime" in target.__dict__:  # always, before input; not when the SDK asks alone
            target.runtime.sync_log.stream(self.stream_name, self.key_properties, self.mapping)
        self.columns: ColumnCheck | None = None
        if self.mapping is not None:
            default = self.stream_name not in target.settings.mappings
            columns = self.columns = ColumnCheck(self.stream_name, self.mapping, default=default)
            self._stop_if(lambda: columns.check_schema(self.schema))
        self.audience: Audience | None = None
        if self.mapping is not None and self.mapping.action == MIRROR_SEGMENT:
            self.audience = target.runtime.mirror.audience_for(self.stream_name, self.mapping)

    def _stop_if(self, check: Callable[[], object]) -> None:
        """Run a column check; before its stop, let the calls of other streams be acknowledged."""
        try:
            check()
        except MappingColumnsError:
            self.target.runtime.sender.flush()
            raise

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """Wrap the SDK's validator so invalid rows are dead-lettered, not fatal."""
        inner = super().get_validator()
        return None if inner is None else RememberingValidator(inner)

    @override
    def process_record(self, record: dict, context: dict) -> None:
        """Map the row; reject it with the reason, or hand its call to the sender.

        Both carry the row as it arrived (``TargetRefiner.arrived_record``, a reference), not
        ``record``, which stream maps and the SDK's parsing have changed.
        """
        runtime = self.target.runtime
        arrived = self.target.arrived_record
        if arrived is None:
            arrived = record
        runtime.progress.row_in(self.stream_name)
        problem = None
        if isinstance(self._validator, RememberingValidator):
            problem = self._validator.failure_for(record)
        if self.columns is not None and self.columns.pending:
            columns = self.columns
            self._stop_if(lambda: columns.check_row(record))
        if problem is not None:
            result: Any = Rejection(f"row does not match the stream schema: {problem}")
        elif self.audience is not None:
            result = self.audience.add(record, arrived, self.target.arrived_version)
            if result is None:
                runtime.progress.hold(self.stream_name)  # diffed at the end of the input
                return
        else:
            result = self.mapper.map(record)
        if isinstance(result, Rejection):
            runtime.dead_letter.reject(self.stream_name, arrived, result.reason)
            runtime.progress.rejected(self.stream_name)
            runtime.sync_log.note(
                self.stream_name, arrived, None, "rejected", message=result.reason
            )
            runtime.progress.check_reject_ratio()
            return
        runtime.sender.submit(self.stream_name, arrived, result)

    @override
    def activate_version(self, new_version: int) -> None:
        """ACTIVATE_VERSION: a mirror's list is the rows of this version from now on.

        Other actions keep the SDK's note: a row missing from a full-table read deletes nothing
        in Refiner (only mirror_segment reads the input as a complete list).
        """
        if self.audience is None:
            super().activate_version(new_version)
            return
        self.audience.activate(new_version)

    @override
    def process_batch(self, context: dict) -> None:
        """The SDK's drain: wait until every row handed to the sender is acknowledged.

        Rows of BATCH files never arrive here as ``context["records"]`` (the SDK's
        ``process_batch_files``): that would skip stream maps and key checks, so it is refused.
        """
        if context.get("records"):
            msg = "BATCH rows must be replayed through TargetRefiner._process_batch_message"
            raise RuntimeError(msg)
        self.target.runtime.sender.flush()

    @staticmethod
    def batch_rows(message: Mapping[str, Any], batch_config: Any) -> Iterator[dict]:  # noqa: ANN401
        """Each row of a BATCH message's files, parsed like the SDK parses them, one at a time.

        ``batch_config`` is the target's setting (its storage, if any, opens the files).
        """
        encoding = BaseBatchFileEncoding.from_dict(message["encoding"])
        storage = BatchConfig.from_dict(batch_config).storage if batch_config else None
        for url in message["manifest"]:
            head, tail = StorageTarget.split_url(url)
            with (storage or StorageTarget.from_url(head)).open(tail, mode="rb") as file:
                if encoding.format == "jsonl":
                    lines = gzip.open(file) if encoding.compression == "gzip" else file  # noqa: SIM115
                    with lines:
                        yield from (deserialize_json(line) for line in lines if line.strip())
                elif encoding.format == "parquet" and importlib.util.find_spec("pyarrow"):
                    import pyarrow.parquet as pq  # noqa: PLC0415 - optional, as in the SDK

                    yield from pq.read_table(file).to_pylist()
                else:
                    msg = f"Unsupported batch encoding format: {encoding.format}"
                    raise NotImplementedError(msg)
