"""Scale benchmark: do the target's memory and the tap's temporary disk grow with the account?

Each case runs a small and a large size side by side and prints the ratio large/small:

* ``resync``: the target re-syncs N unchanged people (identify rows with id and email) over a
  ledger that already holds all N, written directly into the file the target created (so no
  calls are needed to seed it). Peak RSS, and rows/s over the run's wall time less the wall
  time of a run with no rows (start-up: the key check, the interpreter, the SDK).
* ``first``: the target's first run of N new users (emulator limits off, pacing raised so the
  run is not 4000/min-bound). Peak RSS.
* ``tap``: tap-refiner with ``responses`` and ``answers`` selected (the default) over an
  emulator holding N responses. Peak RSS, peak temporary disk (the sizes of the files the
  process holds open in its own ``TMPDIR``, deleted ones included, sampled every 20 ms), the
  ``/responses`` requests made, and records/s.

Rows per second are given over wall time and over the process's CPU time (user + system, all
threads, less a run with no rows): on a shared machine the second moves much less.

Processes run as the console scripts, like in production; peaks are sampled from ``/proc``.

    .venv/bin/python bench/scale.py resync --sizes 100000 1000000
    .venv/bin/python bench/scale.py first --sizes 5000 40000
    .venv/bin/python bench/scale.py tap --sizes 20000 200000
    .venv/bin/python bench/scale.py tap --sizes 20000 200000 --window-days 9 1

The emulator spreads responses over 90 days, so with the default 30-day windows a larger case
means fuller windows. A larger account is rather a longer history: ``--window-days`` (per size)
keeps the windows about as full (2,000 and 2,222 responses) and gives the larger case ten times
the windows instead (the emulator's data then ends an hour ago, ``--recent``, and the tap starts
92 days back).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from refiner_emulator.testing import EmulatorProcess
from target_refiner.ledger.keys import identify_key
from target_refiner.mapping import ApiCall, RowMapper
from target_refiner.mapping_settings import default_mapping

BIN = Path(sys.executable).parent
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
        },
    },
}
STATE_EVERY = 1000


def user(i: int) -> dict:
    return {
        "id": f"user-{i}",
        "email": f"user-{i}@example.com",
        "plan": ("free", "pro", "team")[i % 3],
        "seats": i % 50,
    }


def write_input(path: Path, rows: int) -> None:
    with path.open("w") as f:
        f.write(json.dumps(SCHEMA) + "\n")
        for i in range(rows):
            f.write(json.dumps({"type": "RECORD", "stream": "users", "record": user(i)}) + "\n")
            if (i + 1) % STATE_EVERY == 0:
                f.write(json.dumps({"type": "STATE", "value": {"users": i}}) + "\n")


@dataclass
class Peaks:
    """Peak RSS and temporary disk of a running process, sampled from ``/proc/<pid>``."""

    rss_mb: float = 0.0
    temp_mb: float = 0.0
    cpu_s: float = 0.0  # user + system seconds of the process, all threads

    def sample(self, pid: int, temp_dir: str | None) -> None:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        self.rss_mb = max(self.rss_mb, int(fields.get("VmHWM", "0 kB").split()[0]) / 1024)
        if temp_dir is not None:
            self.temp_mb = max(self.temp_mb, open_temp_bytes(pid, temp_dir) / 1e6)


def open_temp_bytes(pid: int, temp_dir: str) -> int:
    """Bytes in the files ``pid`` holds open under ``temp_dir`` (unlinked ones too)."""
    total = 0
    try:
        links = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return 0
    for link in links:
        with contextlib.suppress(OSError):  # the file was closed meanwhile
            if str(link.readlink()).startswith(temp_dir):
                total += link.stat().st_size
    return total


def run(
    command: list[str], stdin: Path | None, env: dict[str, str] | None = None
) -> tuple[float, Peaks]:
    """Run ``command``; its wall time and peaks (temp disk counted under env's TMPDIR)."""
    peaks = Peaks()
    temp_dir = (env or {}).get("TMPDIR")
    started = time.monotonic()
    with (stdin or Path(os.devnull)).open("rb") as source:
        process = subprocess.Popen(
            command, stdin=source, stdout=subprocess.DEVNULL, env={**os.environ, **(env or {})}
        )
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.02):
            peaks.sample(process.pid, temp_dir)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = code = os.waitstatus_to_exitcode(status)
    peaks.cpu_s = usage.ru_utime + usage.ru_stime
    done.set()
    watcher.join()
    if code != 0:
        msg = f"{command[0]} exited {code}"
        raise SystemExit(msg)
    return time.monotonic() - started, peaks


def seed_ledger(state_dir: Path, people: int) -> None:
    """Write ``people`` acknowledged identifies (and their id/email links) into the ledger."""
    (path,) = state_dir.glob("ledger-*.sqlite")
    mapper = RowMapper(default_mapping("identify"), stream="users", key_properties=("id",))
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    with db:
        for start in range(0, people, 50_000):
            calls = [mapper.map(user(i)) for i in range(start, min(start + 50_000, people))]
            db.executemany("INSERT OR REPLACE INTO ledger VALUES (?, ?, ?, ?)", map(_entry, calls))
            db.executemany(
                "INSERT OR REPLACE INTO person VALUES (?, ?)",
                ((i, c.identifiers[0]) for c in calls for i in c.identifiers),  # type: ignore[union-attr]
            )
    db.close()


def _entry(call: ApiCall) -> tuple[str, str, str, str]:
    key = identify_key(call.identifiers[0])
    return key.kind, key.user_key, key.scope, call.payload_hash


def target_case(emu: EmulatorProcess, tmp: Path, rows: int, *, seeded: bool) -> dict:
    """One target run of ``rows`` rows: re-sync over a seeded ledger, or a first run."""
    state_dir = tmp / f"state-{rows}"
    config = {
        "api_key": emu.api_key,
        "api_url": emu.api_url,
        "state_dir": str(state_dir),
        "progress_interval_seconds": 60,
        "max_requests_per_minute": 10_000_000,
        "max_requests_per_user_per_minute": 10_000_000,
    }
    config_path = tmp / "target.json"
    config_path.write_text(json.dumps(config))
    command = [str(BIN / "target-refiner"), "--config", str(config_path)]
    empty = tmp / "empty.singer"
    write_input(empty, 0)
    startup, idle = run(command, empty)
    if seeded:
        seed_ledger(state_dir, rows)
    source = tmp / "users.singer"
    write_input(source, rows)
    before = emu.stats()["requests"]
    wall, peaks = run(command, source)
    calls = emu.stats()["requests"] - before - 1  # the key check
    return {
        "rows": rows,
        "rss_mb": peaks.rss_mb,
        "rows_per_s": rows / max(wall - startup, 1e-3),
        "rows_per_cpu_s": rows / max(peaks.cpu_s - idle.cpu_s, 1e-3),
        "wall_s": wall,
        "calls": calls,
    }


def tap_case(tmp: Path, responses: int, window_days: int | None) -> dict:
    """tap-refiner (responses + answers) over an emulator with ``responses`` responses."""
    args = ["--contacts", "2000", "--responses", str(responses), "--seed", "1", "--quiet"]
    start = "2000-01-01"
    if window_days is not None:
        args.append("--recent")
        start = (datetime.now(timezone.utc) - timedelta(days=92)).date().isoformat()
    with EmulatorProcess(*args, timeout=900) as emu:
        config: dict = {"api_key": emu.api_key, "api_url": emu.api_url, "start_date": start}
        if window_days is not None:
            config["responses_window_days"] = window_days
        config_path = tmp / "tap.json"
        config_path.write_text(json.dumps(config))
        catalog = tmp / "catalog.json"
        with catalog.open("w") as out:
            discover = [str(BIN / "tap-refiner"), "--config", str(config_path), "--discover"]
            subprocess.run(discover, stdout=out, check=True)
        select_only(catalog, {"responses", "answers"})
        temp_dir = tmp / f"tmp-{responses}"
        temp_dir.mkdir()
        before = len(emu.calls(path="/v1/responses"))
        command = [
            str(BIN / "tap-refiner"), "--config", str(config_path), "--catalog", str(catalog),
        ]  # fmt: skip
        wall, peaks = run(command, None, env={"TMPDIR": str(temp_dir)})
        requests = len(emu.calls(path="/v1/responses")) - before
    return {
        "rows": responses,
        "window_days": window_days or 30,
        "rss_mb": peaks.rss_mb,
        "temp_mb": peaks.temp_mb,
        "requests": requests,
        "rows_per_s": responses / wall,
        "rows_per_cpu_s": responses / peaks.cpu_s,
        "wall_s": wall,
    }


def select_only(catalog: Path, names: set[str]) -> None:
    data = json.loads(catalog.read_text())
    for stream in data["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in names
    catalog.write_text(json.dumps(data))


def table(results: list[dict], columns: list[str]) -> None:
    print("| " + " | ".join(["size", *columns]) + " |")
    print("|" + " --- |" * (len(columns) + 1))
    for result in results:
        cells = [
            f"{result[c]:,.1f}" if isinstance(result[c], float) else str(result[c]) for c in columns
        ]
        print(f"| {result['rows']:,} | " + " | ".join(cells) + " |")
    small, large = results[0], results[-1]
    ratios = [
        f"{large[c] / small[c]:.2f}" if isinstance(small[c], float) and small[c] else "-"
        for c in columns
    ]
    print("| ratio | " + " | ".join(ratios) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=["resync", "first", "tap"])
    parser.add_argument("--sizes", type=int, nargs="+", required=True)
    parser.add_argument(
        "--window-days", type=int, nargs="+", help="tap: responses_window_days per size"
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if args.case == "tap":
            days = args.window_days or [None] * len(args.sizes)
            results = [tap_case(tmp, size, d) for size, d in zip(args.sizes, days, strict=True)]
            columns = ["window_days", "rss_mb", "temp_mb", "requests", "rows_per_s"]
            table(results, [*columns, "rows_per_cpu_s"])
            return
        with EmulatorProcess("--contacts", "0", "--responses", "0", "--quiet") as emu:
            for size in args.sizes:
                results.append(target_case(emu, tmp, size, seeded=args.case == "resync"))
                print(json.dumps(results[-1]), flush=True)
    table(results, ["rss_mb", "rows_per_s", "rows_per_cpu_s", "wall_s", "calls"])


if __name__ == "__main__":
    main()
