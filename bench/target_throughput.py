"""Throughput benchmark: how close the target gets to Refiner's 4000 calls/min per key.

Emulator: rate limits on (4000/min per key, 100/min per user, sliding 60 s windows, 429 +
Retry-After beyond them) and a fixed latency per call, for each of 0, 80, 300 and 1000 ms (the
real API is a remote service: expect 150-1000 ms). Input: identify rows for distinct users. The
target runs with its defaults as the ``target-refiner`` console script, like in production.

Prints one table row per latency: calls/s over the span of the emulator's call log, that divided
by 66.7 (= 4000/60, the ceiling), the 429s, and the target process's peak threads and peak RSS
(sampled from /proc). Goal: share >= 0.9 with 429s <= 1% of calls at every latency. The pacer
deliberately stays 2% under the limit (see refiner_http.pacing).

    .venv/bin/python bench/target_throughput.py [--rows 4000] [--latency-ms 0 80 300 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
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


@dataclass
class Peaks:
    """Peak threads and RSS of a running process, sampled from ``/proc/<pid>/status``."""

    threads: int = 0
    rss_mb: float = 0.0

    def sample(self, pid: int) -> None:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        self.threads = max(self.threads, int(fields.get("Threads", "0")))
        self.rss_mb = max(self.rss_mb, int(fields.get("VmHWM", "0 kB").split()[0]) / 1024)


def run_target(command: list[str], input_path: Path) -> tuple[float, Peaks]:
    """Run the target on ``input_path``; its wall time and peaks."""
    peaks = Peaks()
    started = time.monotonic()
    with input_path.open("rb") as stdin:
        process = subprocess.Popen(command, stdin=stdin, stdout=subprocess.DEVNULL)
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            peaks.sample(process.pid)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    if process.wait() != 0:
        msg = f"target-refiner exited {process.returncode}"
        raise SystemExit(msg)
    done.set()
    watcher.join()
    return time.monotonic() - started, peaks


def measure(latency_ms: float, rows: int, extra_config: dict) -> str:
    """One table row: the target's rate against an emulator ``latency_ms`` away."""
    emulator_args = (
        "--contacts", "0", "--responses", "0", "--rate-limit",
        "--per-key-per-minute", "4000", "--per-user-per-minute", "100",
        "--latency-ms", str(latency_ms),
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(*emulator_args) as emu:
        input_path = Path(tmp) / "users.singer"
        write_input(input_path, rows)
        config_path = Path(tmp) / "config.json"
        config = {
            "api_key": emu.api_key,
            "api_url": emu.api_url,
            "state_dir": str(Path(tmp) / "state"),
            "progress_interval_seconds": 10,
            **extra_config,
        }
        config_path.write_text(json.dumps(config))
        target = str(Path(sys.executable).with_name("target-refiner"))
        wall, peaks = run_target([target, "--config", str(config_path)], input_path)
        calls = emu.calls(path="/v1/identify-user")
        ok = sum(1 for c in calls if c["status"] == HTTP_OK)
        limited = emu.stats()["rate_limited"]
    rate = len(calls) / (calls[-1]["time"] - calls[0]["time"])
    return (
        f"| {latency_ms:>6.0f} | {len(calls):>5} ({ok} ok) | {rate:>6.1f} | "
        f"{rate / LIMIT_PER_SECOND:>5.3f} | {limited} ({limited / max(len(calls), 1):.2%}) | "
        f"{peaks.threads:>3} | {peaks.rss_mb:>5.0f} MB | {wall:>5.1f} s |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0, 80, 300, 1000])
    parser.add_argument("--max-concurrency", type=int, help="override the target's default")
    args = parser.parse_args()
    extra = {} if args.max_concurrency is None else {"max_concurrency": args.max_concurrency}
    print(f"{args.rows} identify rows per latency, target defaults {extra or ''}", flush=True)
    print(
        "| latency ms | calls | calls/s | share of 66.7/s | 429s | peak threads | peak RSS | run |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for latency in args.latency_ms:
        print(measure(latency, args.rows, extra), flush=True)


if __name__ == "__main__":
    main()
