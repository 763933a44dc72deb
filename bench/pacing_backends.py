"""Target throughput with the pacing schedule in a file (per machine) and in PostgreSQL.

The same run as ``bench/target_throughput.py`` (emulator limits on: 4000/min per key, 100/min per
user; a fixed latency per call; the target's defaults), once with the default per-machine
schedule file and once with ``pacing_url`` pointing at a local PostgreSQL (the test suite's
embedded server, on loopback). Goal: the share of the limit with ``pacing_url`` within 0.02 of
the file's at 300 ms.

    .venv/bin/python bench/pacing_backends.py [--rows 4000] [--latency-ms 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.warehouse.postgres_server: the suite's PostgreSQL

from target_throughput import measure  # noqa: E402

from refiner_http.pacing import Pacer  # noqa: E402
from refiner_http.pg_schedule import open_postgres_schedule  # noqa: E402
from tests.warehouse.postgres_server import EmbeddedPostgres  # noqa: E402


def booking_cost(url: str, bookings: int = 2000) -> float:
    """Milliseconds per booking on the PostgreSQL schedule (one round trip each)."""
    schedule = open_postgres_schedule(url, "https://bench.invalid/v1", "bench-key")
    pacer = Pacer(10**9, schedule=schedule, clock=schedule.clock)
    started = time.perf_counter()
    for _ in range(bookings):
        pacer.reserve()
    schedule.close()
    return (time.perf_counter() - started) / bookings * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[300])
    args = parser.parse_args()
    with EmbeddedPostgres() as server:
        url = server.url("postgres")
        print(f"one booking on PostgreSQL (loopback): {booking_cost(url):.2f} ms", flush=True)
        print(f"{args.rows} identify rows per run, target defaults")
        print(
            "| schedule | latency ms | calls | calls/s | share of 66.7/s | 429s "
            "| peak threads | peak RSS | run |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
        for latency in args.latency_ms:
            shares = []
            for name, extra in (("file", {}), ("pacing_url", {"pacing_url": url})):
                row = measure(latency, args.rows, extra)
                print(f"| {name} {row}", flush=True)
                shares.append(float(row.split("|")[4]))
            print(f"share difference at {latency:.0f} ms: {shares[1] - shares[0]:+.3f}")


if __name__ == "__main__":
    main()
