"""Helpers for target tests: run the target in-process, build Singer messages, read calls."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from target_refiner.target import TargetRefiner

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Run:
    """What one in-process target run produced."""

    stdout: str
    config: dict[str, Any]
    error: BaseException | None = None
    states: list[dict[str, Any]] = field(default_factory=list)

    def dead_letter(self) -> list[dict[str, Any]]:
        path = Path(
            self.config.get("dead_letter_path")
            or Path(self.config["state_dir"]) / "dead-letter.jsonl"
        )
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]


def singer_text(source: str | Path | list[dict[str, Any]]) -> str:
    """A fixture name (in fixtures/), a path, or a list of messages -> Singer text."""
    if isinstance(source, list):
        return "".join(json.dumps(m) + "\n" for m in source)
    path = Path(source)
    if not path.is_absolute():
        path = FIXTURES / path
    return path.read_text()


def run_target(
    config: dict[str, Any], source: str | Path | list[dict[str, Any]], *, raises: bool = False
) -> Run:
    """Replay Singer messages through TargetRefiner in-process; capture the STATE lines."""
    out = io.StringIO()
    error: BaseException | None = None
    target = TargetRefiner(config=config)
    with contextlib.redirect_stdout(out):
        try:
            target.listen(io.StringIO(singer_text(source)))
        except Exception as exc:  # noqa: BLE001 - returned to the test
            error = exc
        finally:
            if "runtime" in target.__dict__:
                target.runtime.close()
    if error is not None and not raises:
        raise error
    if raises and error is None:
        pytest.fail("the target run was expected to fail")
    stdout = out.getvalue()
    states = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return Run(stdout=stdout, config=config, error=error, states=states)


def schema(stream: str, properties: dict[str, Any], key_properties: list[str] | None = None):
    """A SCHEMA message."""
    return {
        "type": "SCHEMA",
        "stream": stream,
        "key_properties": key_properties or [],
        "schema": {"type": "object", "properties": properties},
    }


def record(stream: str, row: dict[str, Any]) -> dict[str, Any]:
    """A RECORD message."""
    return {"type": "RECORD", "stream": stream, "record": row}


def state(value: Any) -> dict[str, Any]:
    """A STATE message."""
    return {"type": "STATE", "value": value}


def target_cmd() -> list[str]:
    """The console script of this virtualenv."""
    return [str(Path(sys.executable).with_name("target-refiner"))]


def api_writes(emu) -> list[dict[str, Any]]:
    """Every call except the read-only key check (``GET /v1/``) each run starts with."""
    return [c for c in emu.calls() if c["path"] != "/v1/"]


def api_calls(emu, path: str) -> list[dict[str, Any]]:
    """Calls on one API path (``/identify-user`` -> ``/v1/identify-user``)."""
    return emu.calls(path="/v1" + path)
