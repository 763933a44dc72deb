"""The real ``tap-refiner`` process for the tap's loss-path tests: discover, select, sync."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

TAP = str(Path(sys.executable).with_name("tap-refiner"))


def sync(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run the tap of ``command(*args, **kwargs)`` to its end, capturing its output."""
    return subprocess.run(
        command(*args, **kwargs), capture_output=True, text=True, timeout=600, check=False
    )


def command(
    config: dict[str, Any],
    streams: list[str],
    files: Path,
    state: dict[str, Any] | None = None,
    tap: str = TAP,
) -> list[str]:
    """``tap`` (default: this virtualenv's) with only ``streams`` selected (from ``state``).

    ``files`` is the path prefix of the config, catalog and state files it writes; discovery
    runs here. Start the command yourself, or run it to its end with ``sync``.
    """
    cfg = files.with_name(f"{files.name}-config.json")
    cfg.write_text(json.dumps(config))
    discovered = subprocess.run(
        [tap, "--config", str(cfg), "--discover"], capture_output=True, check=True, text=True
    )
    catalog = json.loads(discovered.stdout)
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if not meta["breadcrumb"]:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    path = files.with_name(f"{files.name}-catalog.json")
    path.write_text(json.dumps(catalog))
    extra: list[str] = []
    if state is not None:
        state_path = files.with_name(f"{files.name}-state.json")
        state_path.write_text(json.dumps(state))
        extra = ["--state", str(state_path)]
    return [tap, "--config", str(cfg), "--catalog", str(path), *extra]


def records_of(stdout: str) -> dict[str, list[dict[str, Any]]]:
    """RECORD messages by stream."""
    out: dict[str, list[dict[str, Any]]] = {}
    for line in stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            out.setdefault(message["stream"], []).append(message["record"])
    return out


def states_of(stdout: str) -> list[dict[str, Any]]:
    """The values of the STATE messages, in order."""
    messages = [json.loads(line) for line in stdout.splitlines() if line]
    return [m["value"] for m in messages if m["type"] == "STATE"]
