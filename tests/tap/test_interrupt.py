"""A signal never cuts a Singer message: while one is being written it waits for its end."""

from __future__ import annotations

import io
import json
import logging
import signal
import sys
from typing import TYPE_CHECKING

import pytest
from singer_sdk.singerlib import RecordMessage

from refiner_http.stops import RunInterruptedError
from tap_refiner.interrupt import InterruptibleWriter, inside_logging

if TYPE_CHECKING:
    from collections.abc import Callable


class Bytes(io.BytesIO):
    """stdout's bytes; ``on_write`` (when set) stands in for each write, as a slow pipe would."""

    def __init__(self) -> None:
        super().__init__()
        self.on_write: Callable[[bytes], int] | None = None

    def raw_write(self, data: bytes) -> int:
        return super().write(data)

    def write(self, data) -> int:  # type: ignore[override]
        return self.on_write(bytes(data)) if self.on_write else super().write(data)


def test_a_signal_during_a_write_stops_right_after_the_whole_message(monkeypatch):
    writer = InterruptibleWriter()
    raw = Bytes()
    stdout = io.TextIOWrapper(raw, encoding="utf-8")

    def write_with_signal(data: bytes) -> int:
        half = len(data) // 2
        raw.raw_write(data[:half])
        writer.interrupt(signal.SIGTERM)  # what the handler calls, mid-message
        raw.raw_write(data[half:])
        return len(data)

    raw.on_write = write_with_signal
    monkeypatch.setattr(sys, "stdout", stdout)
    with pytest.raises(RunInterruptedError) as info:
        writer.write_message(RecordMessage(stream="s", record={"id": 1, "name": "x" * 50}))
    assert info.value.exit_code == 143
    line = raw.getvalue().decode()
    assert line.endswith("\n")
    assert json.loads(line)["record"] == {"id": 1, "name": "x" * 50}
    with pytest.raises(RunInterruptedError):  # nothing more is written once stopping
        writer.write_message(RecordMessage(stream="s", record={"id": 2}))


def test_a_signal_between_messages_stops_at_once():
    writer = InterruptibleWriter()
    with pytest.raises(RunInterruptedError) as info:
        writer.interrupt(signal.SIGINT)
    assert info.value.exit_code == 130
    writer.interrupt(signal.SIGTERM)  # a second signal while stopping changes nothing
    assert writer.signum == signal.SIGINT


class FrameCatcher(logging.Handler):
    """Answers, from inside a log call, what ``inside_logging`` says of the running frame."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[bool] = []

    def emit(self, record: logging.LogRecord) -> None:  # noqa: ARG002 - only the frame matters
        self.answers.append(inside_logging(sys._getframe()))  # noqa: SLF001 - the frame a signal finds


def test_a_signal_inside_logging_stops_before_the_next_message(monkeypatch):
    """Raising in logging could leave a handler's lock taken and every logging thread stuck."""
    catcher = FrameCatcher()
    logger = logging.getLogger("tests.tap.test_interrupt")
    logger.addHandler(catcher)
    try:
        logger.warning("a line the main thread is writing when the signal comes")
    finally:
        logger.removeHandler(catcher)
    assert catcher.answers == [True]
    assert inside_logging(sys._getframe()) is False  # noqa: SLF001 - a frame outside logging

    writer = InterruptibleWriter()
    writer.interrupt(signal.SIGTERM, now=False)  # what the handler does inside logging
    raw = Bytes()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-8"))
    with pytest.raises(RunInterruptedError) as info:
        writer.write_message(RecordMessage(stream="s", record={"id": 1}))
    assert info.value.exit_code == 143
    assert raw.getvalue() == b""  # nothing written after the signal
