"""Load test for `refiner-webhooks serve`: accepted events per second, and none lost.

Starts the receiver as a subprocess (with a secret, on a loopback port), posts --events distinct
webhook bodies over --connections keep-alive connections (one thread + requests.Session each),
stops the receiver, then checks that the store holds exactly the events that were answered 200.

    .venv/bin/python bench/webhook_load.py [--events 20000] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import threading
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any

import requests

from refiner_webhooks.store import read_events
from refiner_webhooks.testing import ReceiverProcess, sample_event

TARGET_PER_SECOND = 500


def post_one(session: requests.Session, url: str, body: bytes, headers: dict[str, str]) -> bool:
    """One delivery; True only when the receiver answered 200 (i.e. committed it)."""
    try:
        with session.post(url, data=body, headers=headers, timeout=30) as reply:
            return reply.status_code == HTTPStatus.OK
    except requests.RequestException:
        return False


def post_all(
    url: str, secret: str, bodies: list[tuple[int, bytes]], accepted: list[int], failed: list[int]
) -> None:
    """Post each body once on one keep-alive connection; sort them into accepted/failed."""
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    with requests.Session() as session:
        for n, body in bodies:
            (accepted if post_one(session, url, body, headers) else failed).append(n)


def run(events: int, connections: int, workdir: str) -> dict[str, Any]:
    store = Path(workdir) / "events.sqlite"
    secret = secrets.token_urlsafe(24)
    bodies = [(n, json.dumps(sample_event(n)).encode()) for n in range(events)]
    accepted: list[int] = []
    failed: list[int] = []
    with ReceiverProcess(store, "--log-level", "warning", secret=secret) as receiver:
        url = receiver.url + "webhooks"
        threads = [
            threading.Thread(
                target=post_all, args=(url, secret, bodies[i::connections], accepted, failed)
            )
            for i in range(connections)
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    stored = [e["response_uuid"] for e in read_events(store)]
    expected = {f"response-{n}" for n in accepted}
    return {
        "events": events,
        "connections": connections,
        "accepted": len(accepted),
        "failed": len(failed),
        "seconds": round(elapsed, 2),
        "accepted_per_second": round(len(accepted) / elapsed),
        "stored": len(stored),
        "store_matches_accepted": len(stored) == len(set(stored)) and set(stored) == expected,
        "store_bytes": store.stat().st_size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--keep", metavar="DIR", help="keep the store in DIR (default: temp)")
    args = parser.parse_args()
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        result = run(args.events, args.connections, args.keep)
    else:
        with tempfile.TemporaryDirectory() as workdir:
            result = run(args.events, args.connections, workdir)
    print(
        f"webhook receiver: {result['accepted']}/{result['events']} events accepted in "
        f"{result['seconds']}s over {result['connections']} connections = "
        f"{result['accepted_per_second']} events/s (target >= {TARGET_PER_SECOND}); "
        f"store holds {result['stored']}, exactly the accepted ones: "
        f"{result['store_matches_accepted']}"
    )
    print(json.dumps(result))
    ok = result["store_matches_accepted"] and result["failed"] == 0
    return 0 if ok and result["accepted_per_second"] >= TARGET_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
