"""The whole tap at the API's real distance: a first run, then a repeat run from its STATE.

    .venv/bin/python bench/tap_latency.py [--latency-ms 200] [--contacts 200] [--forms 5]

Starts an emulator ``--latency-ms`` away (default 200 ms: the real API is a remote service),
seeded with a small account (200 contacts, 5 surveys, their responses), runs ``tap-refiner``
with every stream selected and its default settings as a subprocess (like Meltano does), then
runs it again from the STATE the first run ended with. Prints, for each run, the wall time, the
requests per endpoint, and the records per stream. Goals (issue "Fast at the API's real
distance"): first run <= 40 s; repeat run <= 15 s and <= 100 requests.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from refiner_emulator.testing import EmulatorProcess


def run_tap(config: Path, state: Path | None, out: Path) -> float:
    """Run tap-refiner once, its Singer output into ``out``; return the wall time."""
    command = [str(Path(sys.executable).with_name("tap-refiner")), "--config", str(config)]
    if state is not None:
        command += ["--state", str(state)]
    started = time.monotonic()
    with out.open("wb") as stdout:
        subprocess.run(command, stdout=stdout, stderr=subprocess.DEVNULL, check=True)
    return time.monotonic() - started


def read_output(out: Path) -> tuple[collections.Counter[str], dict | None]:
    """Records per stream, and the last STATE value."""
    records: collections.Counter[str] = collections.Counter()
    state = None
    with out.open() as lines:
        for line in lines:
            message = json.loads(line)
            if message["type"] == "RECORD":
                records[message["stream"]] += 1
            elif message["type"] == "STATE":
                state = message["value"]
    return records, state


def report(label: str, wall: float, calls: list[dict], records: collections.Counter[str]) -> None:
    """Print one run's figures."""
    by_path = collections.Counter(call["path"] for call in calls)
    print(f"\n{label}: {wall:.1f} s, {len(calls)} requests")
    for path, count in sorted(by_path.items()):
        print(f"  requests {path:<22} {count:>5}")
    for stream, count in sorted(records.items()):
        print(f"  records  {stream:<22} {count:>5}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--contacts", type=int, default=200)
    parser.add_argument("--forms", type=int, default=5)
    parser.add_argument("--responses", type=int, default=500)
    args = parser.parse_args()
    emulator_args = (
        "--contacts", str(args.contacts), "--forms", str(args.forms),
        "--responses", str(args.responses), "--latency-ms", str(args.latency_ms),
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(*emulator_args) as emu:
        folder = Path(tmp)
        config = folder / "config.json"
        config.write_text(json.dumps({"api_key": emu.api_key, "api_url": emu.api_url}))
        print(
            f"emulator {args.latency_ms:.0f} ms away: {args.contacts} contacts, "
            f"{args.forms} surveys, {args.responses} responses"
        )
        first_wall = run_tap(config, None, folder / "first.jsonl")
        first_calls = emu.calls()
        records, state = read_output(folder / "first.jsonl")
        report("first run", first_wall, first_calls, records)
        state_file = folder / "state.json"
        state_file.write_text(json.dumps(state or {}))
        repeat_wall = run_tap(config, state_file, folder / "repeat.jsonl")
        repeat_calls = emu.calls()[len(first_calls) :]
        report(
            "repeat run from STATE",
            repeat_wall,
            repeat_calls,
            read_output(folder / "repeat.jsonl")[0],
        )
        print(
            f"\nfirst {first_wall:.1f} s (goal <= 40 s); repeat {repeat_wall:.1f} s "
            f"(goal <= 15 s), {len(repeat_calls)} requests (goal <= 100)"
        )


if __name__ == "__main__":
    main()
