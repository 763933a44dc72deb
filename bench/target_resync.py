"""Re-sync benchmark: 100k identify rows sent once, then the same rows again.

The first run only seeds Refiner (the emulator) and the ledger: it runs with the emulator's rate
limits off and a high ``max_requests_per_minute``/``max_concurrency`` so it does not take the
25 minutes that 100k calls need at Refiner's real 4000/min. The second run is the measurement:
every row is unchanged, so the target must make 0 calls and go as fast as singer-sdk parses rows.

Both runs replay the same .singer file through TargetRefiner in-process (the CLI does the same
after start-up); rows/s is rows divided by the wall time of ``listen()``.

Then the same re-sync with the sync log (issue 21) off and on, alternately, ``--repeat`` times
each: the ratio of their median rows/s.

    .venv/bin/python bench/target_resync.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

from refiner_emulator.testing import EmulatorProcess
from target_refiner.target import TargetRefiner

STATE_EVERY = 1000
SCHEMA = {
    "type": "SCHEMA",
    "stream": "users",
    "key_properties": ["id"],
    "schema": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "email": {"type": "string"},
            "plan": {"type": "string"},
            "seats": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
}


def write_input(path: Path, rows: int) -> None:
    with path.open("w") as f:
        f.write(json.dumps(SCHEMA) + "\n")
        for i in range(rows):
            row = {
                "id": f"user-{i}",
                "email": f"user-{i}@example.com",
                "plan": ("free", "pro", "team")[i % 3],
                "seats": i % 50,
                "created_at": "2026-01-02T03:04:05Z",
            }
            f.write(json.dumps({"type": "RECORD", "stream": "users", "record": row}) + "\n")
            if (i + 1) % STATE_EVERY == 0:
                f.write(json.dumps({"type": "STATE", "value": {"users": i}}) + "\n")


def run(config: dict, path: Path) -> float:
    target = TargetRefiner(config=config)
    started = time.perf_counter()
    with path.open() as f, contextlib.redirect_stdout(io.StringIO()):
        target.listen(f)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="re-syncs each way, sync log off/on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess("--contacts", "0") as emu:
        path = Path(tmp) / "users.singer"
        write_input(path, args.rows)
        base = {
            "api_key": emu.api_key,
            "api_url": emu.api_url,
            "state_dir": str(Path(tmp) / "state"),
            "progress_interval_seconds": 30,
        }
        seed = {
            **base,
            "max_concurrency": 64,
            "max_requests_per_minute": 10_000_000,
            "max_requests_per_user_per_minute": 10_000_000,
        }
        print(f"seeding: first run of {args.rows} rows (rate limits off) ...", flush=True)
        first = run(seed, path)
        first_calls = emu.stats()["requests"]
        print(f"first run (seeding): {first_calls} calls in {first:.1f}s")

        second = run(base, path)
        calls = emu.stats()["requests"] - first_calls - 1  # each run starts with the key check
        print(f"second run: calls made besides the key check: {calls} (target 0)")
        print(f"second run: {args.rows / second:,.0f} rows/s ({second:.2f}s; target >= 20,000)")
        compare_sync_log(base, path, args.rows, args.repeat)


def compare_sync_log(base: dict, path: Path, rows: int, repeat: int) -> None:
    """The same re-sync with the sync log off and on, alternately; the ratio of the medians.

    Alternating keeps the machine's load (shared cores) about the same for both. The process's
    CPU seconds (every thread of this process; the emulator is another) are printed too: on a
    loaded machine they say what logging costs better than the wall time does.
    """
    seconds: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeat):
        for on in (False, True):
            before = _cpu_seconds()
            seconds[on].append(run({**base, "sync_log": on}, path))
            cpu[on].append(_cpu_seconds() - before)
    rates = {on: rows / statistics.median(times) for on, times in seconds.items()}
    for on, times in seconds.items():
        each = ", ".join(f"{rows / t:,.0f}" for t in times)
        state = "on " if on else "off"
        used = statistics.median(cpu[on])
        print(
            f"re-sync, sync log {state}: {rates[on]:,.0f} rows/s median ({each}); "
            f"CPU {used:.2f}s median"
        )
    print(f"sync log on / off: {rates[True] / rates[False]:.3f} (target >= 0.8)")
    ratio = statistics.median(cpu[False]) / statistics.median(cpu[True])
    print(f"CPU seconds off / on: {ratio:.3f} (what logging costs, whatever the load)")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
