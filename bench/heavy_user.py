"""Heavy-user benchmark: does one person with many events get their whole per-user budget?

Events are power-law: one user has many, most have one. Input: ``--events`` track events of one
user spread evenly among ``--others`` users with one event each. Emulator: rate limits on
(4000/min per key, 100/min per user, 429 beyond them) and a fixed latency per call. The target
runs with its defaults as the ``target-refiner`` console script.

Prints per latency: the heavy user's events/min between their first and last event stored by
the emulator and that as a share of the per-user pace (98/min: the pacer stays 2% under 100),
the seconds until the others' last event, the 429s, and the wall time. Goals: share >= 0.95,
0 429s, the others as fast as before.

    .venv/bin/python bench/heavy_user.py [--events 150] [--others 1500] [--latency-ms 50 300]
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

HEAVY = "heavy-user"
USER_PACE_PER_MINUTE = 98.0


def write_input(path: Path, events: int, others: int) -> None:
    schema = {
        "type": "SCHEMA",
        "stream": "events",
        "key_properties": ["event_id"],
        "schema": {
            "type": "object",
            "properties": {
                "event_id": {"type": "string"},
                "user_id": {"type": "string"},
                "name": {"type": "string"},
            },
        },
    }
    every = max(others // max(events, 1), 1)
    rows = []
    heavy = 0
    for i in range(others):
        if i % every == 0 and heavy < events:
            rows.append({"event_id": f"h{heavy}", "user_id": HEAVY, "name": f"Step {heavy}"})
            heavy += 1
        rows.append({"event_id": f"o{i}", "user_id": f"other-{i}", "name": "Signed Up"})
    rows += [
        {"event_id": f"h{n}", "user_id": HEAVY, "name": f"Step {n}"} for n in range(heavy, events)
    ]
    with path.open("w") as f:
        f.write(json.dumps(schema) + "\n")
        for row in rows:
            f.write(json.dumps({"type": "RECORD", "stream": "events", "record": row}) + "\n")
        f.write(json.dumps({"type": "STATE", "value": {"events": len(rows)}}) + "\n")


def measure(latency_ms: float, events: int, others: int) -> str:
    emulator_args = (
        "--contacts", "0", "--responses", "0", "--rate-limit", "--quiet",
        "--per-key-per-minute", "4000", "--per-user-per-minute", "100",
        "--latency-ms", str(latency_ms),
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(*emulator_args) as emu:
        source = Path(tmp) / "events.singer"
        write_input(source, events, others)
        config = {
            "api_key": emu.api_key,
            "api_url": emu.api_url,
            "state_dir": str(Path(tmp) / "state"),
            "progress_interval_seconds": 30,
            "mappings": {"events": {"action": "track", "user_id": "user_id", "event": "name"}},
        }
        config_path = Path(tmp) / "config.json"
        config_path.write_text(json.dumps(config))
        target = str(Path(sys.executable).with_name("target-refiner"))
        started = time.time()
        with source.open("rb") as stdin:
            subprocess.run(
                [target, "--config", str(config_path)],
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
        wall = time.time() - started
        stored = emu.events()
        limited = emu.stats()["rate_limited"]
    heavy = sorted(e["time"] for e in stored if e["user_id"] == HEAVY)
    rest = [e["time"] for e in stored if e["user_id"] != HEAVY]
    pace = (len(heavy) - 1) / (heavy[-1] - heavy[0]) * 60
    share = pace / USER_PACE_PER_MINUTE
    return (
        f"| {latency_ms:>4.0f} | {len(heavy)} | {pace:5.1f}/min | {share:.3f} | "
        f"{len(rest)} in {max(rest) - started:5.1f} s | {limited} | {wall:5.1f} s |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=150)
    parser.add_argument("--others", type=int, default=1500)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[50, 300])
    args = parser.parse_args()
    print(f"{args.events} events of one user among {args.others} others, limits on", flush=True)
    print("| latency ms | heavy events | heavy pace | share of 98/min | others | 429s | run |")
    print("| --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for latency in args.latency_ms:
        print(measure(latency, args.events, args.others), flush=True)


if __name__ == "__main__":
    main()
