"""Write the reverse-ETL samples ``demo/users.jsonl`` and ``demo/events.jsonl`` (deterministic).

The users stream becomes Refiner ``identify`` calls (with a nested account), the events stream
becomes ``track`` calls (see the ``target-refiner`` mappings in meltano.yml). Re-running this
script produces byte-identical files, so the committed samples never drift by accident.

Usage: ``.venv/bin/python scripts/demo_data.py [--users 24] [--events 60]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"
SEED = 20240601
START = dt.datetime(2024, 6, 1, 9, 0, tzinfo=dt.timezone.utc)

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Donald", "Frances", "Linus"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Perlman", "Knuth"]
ACCOUNTS = [
    ("acct-100", "Acme Corp", "enterprise"),
    ("acct-200", "Globex", "business"),
    ("acct-300", "Initech", "starter"),
    ("acct-400", "Umbrella", "business"),
]
PLANS = ["free", "starter", "pro"]
EVENTS = ["Logged In", "Created Report", "Invited Teammate", "Exported CSV", "Upgraded Plan"]


def iso(moment: dt.datetime) -> str:
    """UTC ISO 8601 with a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def users(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Sample users, each in one account."""
    rows = []
    for n in range(1, count + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        account_id, account_name, tier = ACCOUNTS[n % len(ACCOUNTS)]
        rows.append(
            {
                "id": f"user-{n:03d}",
                "email": f"{first.lower()}.{last.lower()}.{n}@example.com",
                "name": f"{first} {last}",
                "plan": rng.choice(PLANS),
                "signed_up_at": iso(START + dt.timedelta(days=n, hours=rng.randint(0, 23))),
                "seats": rng.randint(1, 50),
                "is_admin": n % 5 == 0,
                "account_id": account_id,
                "account_name": account_name,
                "account_tier": tier,
            }
        )
    return rows


def events(count: int, user_count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Sample product events by the sample users, in time order."""
    rows = []
    moment = START + dt.timedelta(days=user_count + 1)
    for n in range(1, count + 1):
        moment += dt.timedelta(minutes=rng.randint(5, 240))
        rows.append(
            {
                "event_id": f"evt-{n:04d}",
                "user_id": f"user-{rng.randint(1, user_count):03d}",
                "event": rng.choice(EVENTS),
                "occurred_at": iso(moment),
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """One compact JSON object per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Write both files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=24)
    parser.add_argument("--events", type=int, default=60)
    parser.add_argument("--out", type=Path, default=DEMO, help="directory (default demo/)")
    args = parser.parse_args(argv)
    rng = random.Random(SEED)  # noqa: S311 - sample data, not security
    write_jsonl(args.out / "users.jsonl", users(args.users, rng))
    write_jsonl(args.out / "events.jsonl", events(args.events, args.users, rng))
    sys.stdout.write(f"wrote users.jsonl and events.jsonl in {args.out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
