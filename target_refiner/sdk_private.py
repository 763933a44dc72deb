"""The private singer-sdk members target-refiner relies on, in one list, each with why.

singer-sdk offers no public hook for these; an SDK upgrade that renames or reshapes one must
fail loudly. Overridden methods also carry ``@override``, so a rename fails type checking; the
test ``tests/target/test_sdk_private.py`` checks every entry below exists.
"""

from __future__ import annotations

from singer_sdk import Sink, Target
from singer_sdk.helpers import _batch
from singer_sdk.plugin_base import PluginBase

#: (owner, member, why). Instance attributes are listed with the class that sets them.
PRIVATE_SDK_MEMBERS: tuple[tuple[object, str, str], ...] = (
    (
        Target,
        "_process_record_message",
        "keep a reference to the row as it arrived, before stream maps (dead-letter, sender)",
    ),
    (
        Target,
        "_process_batch_message",
        "replay BATCH rows as RECORD messages: one path (maps, key checks, validation)",
    ),
    (
        Target,
        "_process_state_message",
        "queue each STATE behind the rows received before it (state.AckTracker)",
    ),
    (
        Target,
        "_write_state_message",
        "write STATE only when safe: deduplicated, held for max_reject_ratio, none in a dry run",
    ),
    (
        PluginBase,
        "_handle_termination",
        "SIGTERM/SIGINT end the input instead of draining inside the signal handler",
    ),
    (Target, "_assert_line_requires", "the SDK's own check of a message's required keys"),
    (Target, "_latest_state", "skip a STATE equal to the last one received, as the SDK does"),
    (Sink, "_validator", "the validator the SDK built from get_validator (failed-row lookup)"),
    (
        _batch,
        "BaseBatchFileEncoding",
        "read BATCH files exactly as the SDK does (with BatchConfig and StorageTarget)",
    ),
    (_batch, "BatchConfig", "the target's batch_config setting (storage of BATCH files)"),
    (_batch, "StorageTarget", "open a BATCH manifest URL, local or remote"),
)
