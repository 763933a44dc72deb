"""Re-sync of unchanged identify rows with the ledger in SQLite and in PostgreSQL, side by side.

The rows are sent once (seeding the emulator and a SQLite ledger, rate limits off), the ledger
file is copied into PostgreSQL (``target_refiner.ledger.to_postgres``, the documented move; the
suite's embedded server on loopback), then the same rows are replayed twice: with the SQLite
ledger in ``state_dir``, and with an empty ``state_dir`` and ``ledger_url``. Goal: 0 calls both
times and the PostgreSQL ledger at least half the SQLite ledger's rows/s.

    .venv/bin/python bench/ledger_backends.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.warehouse.postgres_server: the suite's PostgreSQL

from target_resync import run, write_input  # noqa: E402

from refiner_emulator.testing import EmulatorProcess  # noqa: E402
from target_refiner.ledger.to_postgres import copy_ledger  # noqa: E402
from tests.warehouse.postgres_server import EmbeddedPostgres  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmulatorProcess("--contacts", "0") as emu,
        EmbeddedPostgres() as server,
    ):
        path = Path(tmp) / "users.singer"
        write_input(path, args.rows)
        base = {"api_key": emu.api_key, "api_url": emu.api_url, "progress_interval_seconds": 30}
        local = {**base, "state_dir": str(Path(tmp) / "state")}
        seed = {
            **local,
            "max_concurrency": 64,
            "max_requests_per_minute": 10_000_000,
            "max_requests_per_user_per_minute": 10_000_000,
        }
        print(f"seeding: first run of {args.rows} rows (rate limits off) ...", flush=True)
        seconds = run(seed, path)
        print(f"seeded: {emu.stats()['requests']} calls in {seconds:.1f}s", flush=True)
        url = server.url("postgres")
        (ledger,) = Path(local["state_dir"]).glob("ledger-project-*.sqlite")
        started = time.perf_counter()
        copied = copy_ledger(ledger, url)
        print(f"ledger_copy: {copied.entries} entries in {time.perf_counter() - started:.1f}s")
        print("| ledger | rows | calls besides the key check | seconds | rows/s |")
        print("| --- | --- | --- | --- | --- |")
        rates = []
        shared = {**base, "state_dir": str(Path(tmp) / "empty"), "ledger_url": url}
        for name, config in (("SQLite (state_dir)", local), ("PostgreSQL (ledger_url)", shared)):
            before = emu.stats()["requests"]
            seconds = run(config, path)
            calls = emu.stats()["requests"] - before - 1
            rates.append(args.rows / seconds)
            print(f"| {name} | {args.rows} | {calls} | {seconds:.2f} | {rates[-1]:,.0f} |")
        print(f"PostgreSQL / SQLite rows/s: {rates[1] / rates[0]:.2f} (goal >= 0.5)")


if __name__ == "__main__":
    main()
