"""Throughput benchmark: how close the target gets to Refiner's 4000 calls/min per key.

Emulator: rate limits on (4000/min per key, 100/min per user, sliding 60 s windows, 429 +
Retry-After beyond them) and 80 ms latency per call. Input: 6000 identify rows for distinct
users. The target runs with its defaults (8 workers, 4000/min and 100/min pacing) as the
``target-refiner`` console script, like in production.

Prints calls/s (over the span of the emulator's call log, and over the whole run), calls/s
divided by 66.7 (= 4000/60, the ceiling), and the number of 429s. Goal: ratio >= 0.9 with 429s
<= 1% of calls. The pacer deliberately stays 2% under the limit (see refiner_http.pacing).

    .venv/bin/python bench/target_throughput.py [--rows 6000] [--latency-ms 80]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from refiner_emulator.testing import EmulatorProcess

LIMIT_PER_SECOND = 4000 / 60
STATE_EVERY = 500
HTTP_OK = 200


def write_input(path: Path, rows: int) -> None:
    schema = {
        "type": "SCHEMA",
        "stream": "users",
        "key_properties": ["id"],
        "schema": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "plan": {"type": "string"}},
        },
    }
    with path.open("w") as f:
        f.write(json.dumps(schema) + "\n")
        for i in range(rows):
            row = {"id": f"bench-{i}", "plan": ("free", "pro", "team")[i % 3]}
            f.write(json.dumps({"type": "RECORD", "stream": "users", "record": row}) + "\n")
            if (i + 1) % STATE_EVERY == 0:
                f.write(json.dumps({"type": "STATE", "value": {"users": i}}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--latency-ms", type=float, default=80)
    parser.add_argument("--max-concurrency", type=int, default=8)
    args = parser.parse_args()
    emulator_args = (
        "--contacts", "0", "--responses", "0", "--rate-limit",
        "--per-key-per-minute", "4000", "--per-user-per-minute", "100",
        "--latency-ms", str(args.latency_ms),
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(*emulator_args) as emu:
        input_path = Path(tmp) / "users.singer"
        write_input(input_path, args.rows)
        config_path = Path(tmp) / "config.json"
        config = {
            "api_key": emu.api_key,
            "api_url": emu.api_url,
            "state_dir": str(Path(tmp) / "state"),
            "max_concurrency": args.max_concurrency,
            "progress_interval_seconds": 10,
        }
        config_path.write_text(json.dumps(config))
        command = [
            str(Path(sys.executable).with_name("target-refiner")),
            "--config",
            str(config_path),
        ]
        print(
            f"sending {args.rows} identify rows, latency {args.latency_ms:.0f} ms ...", flush=True
        )
        started = time.monotonic()
        subprocess.run(
            [*command, "--input", str(input_path)], stdout=subprocess.DEVNULL, check=True
        )
        wall = time.monotonic() - started

        calls = emu.calls(path="/v1/identify-user")
        ok = [c for c in calls if c["status"] == HTTP_OK]
        stats = emu.stats()
        span = calls[-1]["time"] - calls[0]["time"]
        rate = len(calls) / span
        print(f"calls: {len(calls)} ({len(ok)} ok) in {span:.1f}s; whole run {wall:.1f}s")
        print(f"calls/s: {rate:.1f} (whole run: {len(calls) / wall:.1f})")
        print(f"calls/s / 66.7: {rate / LIMIT_PER_SECOND:.3f} (target >= 0.9)")
        limited = stats["rate_limited"]
        print(f"429s: {limited} ({limited / max(len(calls), 1):.2%} of calls; target <= 1%)")


if __name__ == "__main__":
    main()
