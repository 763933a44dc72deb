"""Glue between singer-sdk and the sender: one sink per stream, all sharing one runtime.

Why a ``BatchSink`` whose ``process_record`` sends at once: rows are mapped and handed to the
(asynchronous) sender as they arrive, so calls flow continuously; the SDK's batch machinery is
only used for its drain hook. ``process_batch`` waits until every row handed over is
acknowledged, which makes the SDK's own STATE write in ``drain_all`` (every 5 minutes and at the
end) correct. Prompt STATE emission between drains is the sender's job (see ``sender.py``).

Schema validation: rows that do not match the stream's schema go to the dead-letter file instead
of stopping the run, through a validator wrapper (``get_validator``) that remembers the failure
for ``process_record``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

from target_refiner.mapping import Rejection, map_record

if TYPE_CHECKING:
    from target_refiner.target import TargetRefiner


class RememberingValidator(BaseJSONSchemaValidator):
    """Validates like the SDK's validator, but records the failure instead of raising."""

    def __init__(self, inner: BaseJSONSchemaValidator) -> None:
        """Wrap the SDK's validator for this stream."""
        super().__init__(inner.schema)
        self.inner = inner
        self.failed: tuple[int, str] | None = None

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
        """Resolve this stream's mapping once."""
        self.target = target
        super().__init__(target, *args, **kwargs)
        self.mapping = target.settings.mapping_for(self.stream_name)

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """Wrap the SDK's validator so invalid rows are dead-lettered, not fatal."""
        inner = super().get_validator()
        return None if inner is None else RememberingValidator(inner)

    def process_record(self, record: dict, context: dict) -> None:  # noqa: ARG002
        """Map the row; reject it with the reason, or hand its call to the sender."""
        runtime = self.target.runtime
        runtime.progress.row_in(self.stream_name)
        problem = None
        if isinstance(self._validator, RememberingValidator):
            problem = self._validator.failure_for(record)
        if problem is not None:
            result: Any = Rejection(f"row does not match the stream schema: {problem}")
        else:
            result = map_record(
                record,
                self.mapping,
                stream=self.stream_name,
                key_properties=tuple(self.key_properties),
                truncate=self.target.settings.truncate_long_strings,
            )
        if isinstance(result, Rejection):
            runtime.dead_letter.reject(self.stream_name, record, result.reason)
            runtime.progress.rejected(self.stream_name)
            runtime.progress.check_reject_ratio()
            return
        runtime.sender.submit(self.stream_name, record, result)

    def process_batch(self, context: dict) -> None:
        """Send the rows of a BATCH file, then drain: wait until every row is acknowledged.

        RECORD messages reach ``process_record`` one by one and leave ``context`` empty; rows
        from BATCH files (``process_batch_files``) arrive here as ``context["records"]``.
        """
        for record in context.get("records", ()):
            self.process_record(record, context)
        self.target.runtime.sender.flush()
