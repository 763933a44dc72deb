"""Run the tap in-process against the emulator and collect its Singer messages."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pytest

from tap_refiner.tap import TapRefiner


@dataclass
class Run:
    """The Singer messages of one tap run, parsed."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None
    #: The run's "now" (the tap's start, where its last response window ends), UTC.
    started_at: datetime | None = None

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def schemas(self, stream: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict[str, Any]:
        return self.states[-1] if self.states else {}


def tap_config(emu, **settings: Any) -> dict[str, Any]:
    return {"api_key": emu.api_key, "api_url": emu.api_url, **settings}


def run_tap(
    emu,
    streams: list[str],
    *,
    state: dict | None = None,
    catalog: dict | None = None,
    expect_error: bool = False,
    **settings: Any,
) -> Run:
    """Sync only ``streams`` (children selected by name too) and capture stdout."""
    tap = TapRefiner(config=tap_config(emu, **settings), state=state or {}, catalog=catalog)
    if catalog is None:
        for name, stream in tap.streams.items():
            stream.selected = name in streams
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # the writer writes bytes
    run = Run(started_at=datetime.fromtimestamp(tap.initialized_at / 1000, tz=timezone.utc))
    with contextlib.redirect_stdout(buffer):
        try:
            tap.sync_all()
        except Exception as exc:
            if not expect_error:
                raise
            run.error = exc
    buffer.flush()
    output = buffer.buffer.getvalue().decode()  # type: ignore[attr-defined]
    run.messages = [json.loads(line) for line in output.splitlines() if line]
    if expect_error and run.error is None:
        pytest.fail("the tap run was expected to fail")
    return run


def api_items(emu, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list endpoint, read with the emulator's own client (the ground truth)."""
    return emu.api.items(path, **params)
