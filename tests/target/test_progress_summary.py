"""The end-of-run verdict on rejections: which wholly rejected streams fail the run."""

from __future__ import annotations

import logging

import pytest

from target_refiner.progress import Progress, StreamRejectedError


def progress(default_action: str) -> Progress:
    p = Progress(
        logging.getLogger("test-progress"),
        interval=0,
        dead_letter_hint="dl.jsonl",
        mapped=frozenset({"users", "events"}),
        default_action=default_action,
    )
    for stream, rejected, sent in (("users", 2, 0), ("events", 1, 1), ("extra", 3, 0)):
        for _ in range(rejected):
            p.row_in(stream)
            p.rejected(stream)
        for _ in range(sent):
            p.row_in(stream)
            p.sent(stream)
    return p


def test_wholly_rejected_streams_fail_the_run_unless_default_action_none_asked_for_it():
    with pytest.raises(StreamRejectedError) as raised:
        progress("identify").raise_if_streams_rejected()
    assert "Every row of streams 'extra' (3 rows), 'users' (2 rows) was rejected" in str(
        raised.value
    )
    with pytest.raises(StreamRejectedError, match=r"of stream 'users' \(2 rows\).*dl\.jsonl"):
        progress("none").raise_if_streams_rejected()


def test_the_summary_is_a_warning_with_count_and_file_when_rows_were_rejected(caplog):
    caplog.set_level(logging.INFO)
    progress("none").summary()
    levels = {r.getMessage().split(":")[0]: r.levelno for r in caplog.records}
    assert levels["Summary for stream 'events'"] == logging.WARNING
    assert levels["Summary"] == logging.WARNING
    assert any(
        "'extra' (none: 3 rows in" in r.getMessage() and r.levelno == logging.WARNING
        for r in caplog.records
    )
    assert any(
        "3 rejected rows are in the dead-letter file dl.jsonl" in r.getMessage()
        for r in caplog.records
    )
