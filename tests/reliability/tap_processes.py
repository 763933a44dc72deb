"""The real ``tap-refiner`` process for the tap's loss-path tests: discover, select, sync."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

TAP = str(Path(sys.executable).with_name("tap-refiner"))


def sync(
    config: dict[str, Any],
    streams: list[str],
    tmp_path: Path,
    name: str = "tap",
    state: dict[str, Any] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the tap with only ``streams`` selected (from ``state``); the finished process."""
    cfg = tmp_path / f"{name}-config.json"
    cfg.write_text(json.dumps(config))
    discovered = subprocess.run(
        [TAP, "--config", str(cfg), "--discover"], capture_output=True, check=True, text=True
    )
    catalog = json.loads(discovered.stdout)
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if not meta["breadcrumb"]:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    path = tmp_path / f"{name}-catalog.json"
    path.write_text(json.dumps(catalog))
    extra: list[str] = []
    if state is not None:
        state_path = tmp_path / f"{name}-state.json"
        state_path.write_text(json.dumps(state))
        extra = ["--state", str(state_path)]
    return subprocess.run(
        [TAP, "--config", str(cfg), "--catalog", str(path), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def records_of(stdout: str) -> dict[str, list[dict[str, Any]]]:
    """RECORD messages by stream."""
    out: dict[str, list[dict[str, Any]]] = {}
    for line in stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            out.setdefault(message["stream"], []).append(message["record"])
    return out
