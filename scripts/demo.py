"""``make demo``: both directions through the real Meltano, against a local Refiner emulator.

1. starts ``refiner-webhooks serve`` (store ``.demo/webhooks.sqlite``) and ``refiner-emulator``
   (seeded data, webhooks sent to the receiver);
2. triggers three webhooks through the emulator's API (a response, a tag, a segment entry);
3. ``meltano install``, then ``meltano --environment=demo run tap-refiner target-duckdb`` into
   ``.demo/warehouse.duckdb`` and prints the row count of every table;
4. ``meltano --environment=demo run dbt-duckdb:build`` (the dbt package in transform/) and
   prints, from its marts, NPS per survey for the last 30 days and the audience size;
5. ``meltano --environment=demo run demo-reverse-sync`` (the job sending the samples in demo/,
   configured in the demo environment only) and prints what the emulator received;
6. stops the emulator and the receiver.

The emulator runs with ``--recent``: its seeded 90 days end an hour ago, so the last 30 days and
Refiner's reports have data. The tap reads every response (``responses_include: all``: views and
partials too), so the marts have views and match Refiner's reports exactly.

Every run starts clean: Meltano's state, the warehouse and the target's ledger live in ``.demo/``,
which is emptied first. Logs of each Meltano command are kept in ``.demo/*.log``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import requests

from refiner_emulator.testing import EmulatorProcess
from refiner_webhooks.testing import ReceiverProcess

if TYPE_CHECKING:
    from collections.abc import Sequence

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
WAREHOUSE = DEMO / "warehouse.duckdb"
WEBHOOK_STORE = DEMO / "webhooks.sqlite"
WEBHOOK_SECRET = "whsec-demo-0123456789"  # noqa: S105 - the demo's own local token
EMULATOR_ARGS = (
    "--recent",
    "--seed",
    "1",
    "--contacts",
    "500",
    "--responses",
    "1500",
    "--forms",
    "5",
)
TABLES = (
    "contacts",
    "segment_memberships",
    "segments",
    "responses",
    "answers",
    "forms",
    "questions",
    "reports",
    "account",
    "webhook_events",
)
MELTANO_TIMEOUT = 900


def say(text: str = "") -> None:
    """One line to the terminal, flushed."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def meltano_bin() -> str:
    """``MELTANO_BIN`` (set by the Makefile), else the project's .venv-meltano."""
    path = os.environ.get("MELTANO_BIN") or str(ROOT / ".venv-meltano" / "bin" / "meltano")
    if not Path(path).exists():
        msg = f"Meltano not found at {path}: run `make meltano` (or `make demo`)"
        raise SystemExit(msg)
    return path


def meltano(args: Sequence[str], env: dict[str, str], log_name: str) -> float:
    """Run one Meltano command from the project root; its output goes to ``.demo/LOG``."""
    log_path = DEMO / log_name
    say(f"$ meltano {' '.join(args)}    (log: {log_path.relative_to(ROOT)})")
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log:
        result = subprocess.run(  # noqa: S603 - the Meltano binary with our own arguments
            [meltano_bin(), *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=MELTANO_TIMEOUT,
            check=False,
        )
    took = time.monotonic() - started
    if result.returncode != 0:
        say(log_path.read_text(encoding="utf-8")[-5000:])
        msg = f"meltano {' '.join(args)} failed (exit {result.returncode}); see {log_path}"
        raise SystemExit(msg)
    say(f"  done in {took:.1f}s")
    return took


def meltano_env(emulator: EmulatorProcess) -> dict[str, str]:
    """Point the demo environment at this emulator; keep state and ledger inside .demo/."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_"))}
    env.update(
        {
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
            "MELTANO_DATABASE_URI": f"sqlite:///{DEMO / 'meltano.db'}",
            "TAP_REFINER_API_URL": emulator.api_url,
            "TAP_REFINER_WEBHOOK_STORE": str(WEBHOOK_STORE),
            "TAP_REFINER_RESPONSES_INCLUDE": "all",
            "TARGET_REFINER_API_URL": emulator.api_url,
            "TARGET_REFINER_STATE_DIR": str(DEMO / "target-refiner"),
            "TARGET_DUCKDB_FILEPATH": str(WAREHOUSE),
            "DBT_DUCKDB_PATH": str(WAREHOUSE),
        }
    )
    return env


class Api:
    """The few emulator API calls the demo makes (Bearer key, JSON bodies)."""

    def __init__(self, emulator: EmulatorProcess) -> None:
        """One session for the demo."""
        self.url = emulator.api_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {emulator.api_key}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:  # noqa: ANN401 - JSON
        """One call; any non-200 stops the demo."""
        with self.session.request(method, self.url + path, timeout=15, **kwargs) as reply:
            reply.raise_for_status()
            return reply.json()

    def trigger_webhooks(self) -> int:
        """A new response, a tag on it and a manual segment entry: three webhooks."""
        form = self.call("GET", "/forms")["items"][0]
        response = self.call(
            "POST",
            "/responses",
            json={"form_uuid": form["uuid"], "id": "demo-user-1", "response_data": {"nps": 10}},
        )
        self.call("POST", "/responses/tags", json={"uuid": response["uuid"], "tags": ["demo"]})
        segments = self.call("GET", "/segments")["items"]
        manual = next(s for s in segments if s["is_manual"])
        self.call(
            "POST", "/sync-segment", json={"segment_uuid": manual["uuid"], "id": "demo-user-1"}
        )
        return 3


def table_counts() -> dict[str, int]:
    """Rows per table of the demo warehouse."""
    with duckdb.connect(str(WAREHOUSE), read_only=True) as con:
        names = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'refiner' "
                "ORDER BY table_name"
            ).fetchall()
        ]
        counts = {}
        for name in names:
            sql = f'SELECT count(*) FROM refiner."{name}"'  # noqa: S608 - names from the catalog
            row = con.execute(sql).fetchone()
            counts[name] = int(row[0]) if row else 0
        return counts


def sample_webhook_events() -> list[tuple[Any, ...]]:
    """A few webhook rows as they landed in the warehouse."""
    with duckdb.connect(str(WAREHOUSE), read_only=True) as con:
        return con.execute(
            "SELECT seq, event_type, remote_id FROM refiner.webhook_events ORDER BY seq LIMIT 5"
        ).fetchall()


def extract(emulator: EmulatorProcess, env: dict[str, str]) -> None:
    """Refiner -> DuckDB and the table report."""
    say("\n== Refiner -> DuckDB ==")
    meltano(["--environment=demo", "run", "tap-refiner", "target-duckdb"], env, "extract.log")
    counts = table_counts()
    say(f"Tables in {WAREHOUSE.relative_to(ROOT)} (schema refiner):")
    for name in sorted(
        counts, key=lambda n: (n not in TABLES, TABLES.index(n) if n in TABLES else 0)
    ):
        say(f"  {name:<22} {counts[name]:>7} rows")
    empty = [t for t in TABLES if not counts.get(t)]
    if empty:
        msg = f"empty tables: {', '.join(empty)}"
        raise SystemExit(msg)
    say("webhook_events (pushed by the emulator, stored by the receiver, read by the tap):")
    for seq, event_type, remote_id in sample_webhook_events():
        say(f"  #{seq} {event_type} (user {remote_id})")
    stats = emulator.stats()
    say(f"The tap made {stats['requests']} API requests, statuses {stats['by_status']}.")


def recent_nps() -> tuple[list[tuple[Any, ...]], int]:
    """NPS per survey of the last 30 days and the audience size, from the package's marts."""
    with duckdb.connect(str(WAREHOUSE), read_only=True) as con:
        surveys = con.execute(
            "SELECT form_name, form_state, recent_nps_answer_count, round(recent_nps, 1), "
            "recent_response_count, round(100 * recent_completion_rate, 1) "
            "FROM refiner_analytics.refiner__survey_overview ORDER BY form_name"
        ).fetchall()
        row = con.execute("SELECT count(*) FROM refiner_analytics.refiner__recent_detractors")
        audience = row.fetchone()
    return surveys, int(audience[0]) if audience else 0


def transform(env: dict[str, str]) -> None:
    """The dbt package on the demo warehouse, and what its marts say."""
    say("\n== The dbt package (transform/) on DuckDB ==")
    meltano(["--environment=demo", "run", "dbt-duckdb:build"], env, "dbt.log")
    surveys, audience = recent_nps()
    say("NPS per survey, last 30 days (refiner_analytics.refiner__survey_overview):")
    header = ("survey", "state", "NPS answers", "NPS", "responses", "done %")
    say("  {:<24} {:<10} {:>11} {:>7} {:>9} {:>7}".format(*header))
    for name, state, answers, nps, responses, done in surveys:
        shown = "-" if nps is None else f"{nps:+.1f}"
        rate = "-" if done is None else f"{done:.1f}"
        say(f"  {name:<24} {state:<10} {answers:>11} {shown:>7} {responses:>9} {rate:>7}")
    say(f"Audience refiner__recent_detractors (NPS 0-6 in the last 30 days): {audience} contacts")


def reverse(emulator: EmulatorProcess, env: dict[str, str]) -> None:
    """Sample users and events -> Refiner, and what the emulator received."""
    say("\n== Sample users and events -> Refiner (reverse ETL) ==")
    emulator.reset()  # clears the call log and counters only; the data stays
    meltano(["--environment=demo", "run", "demo-reverse-sync"], env, "reverse.log")
    stats = emulator.stats()
    by_path = stats["by_path"]
    users = len((ROOT / "demo" / "users.jsonl").read_text(encoding="utf-8").splitlines())
    events = len((ROOT / "demo" / "events.jsonl").read_text(encoding="utf-8").splitlines())
    say(f"Sample rows: {users} users (demo/users.jsonl), {events} events (demo/events.jsonl)")
    identify, track = by_path.get("/v1/identify-user", 0), by_path.get("/v1/track-event", 0)
    say(f"Emulator received: {identify} identify-user calls, {track} track-event calls")
    say(f"  statuses {stats['by_status']}, rate limited {stats['rate_limited']}")
    calls = emulator.calls()
    for path in ("/v1/identify-user", "/v1/track-event"):
        sample = next((c for c in calls if c["path"] == path), None)
        if sample is not None:
            say(f"Sample {path}: {json.dumps(sample['params'], sort_keys=True)}")
    contact = emulator.contact("user-001")
    if contact is not None:
        keep = ("remote_id", "email", "identify_count", "attributes", "account")
        say(f"Stored contact user-001: {json.dumps({k: contact.get(k) for k in keep})}")


def main() -> int:
    """Run the whole demo; servers are always stopped."""
    started = time.monotonic()
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)
    say("== Starting the webhook receiver and the Refiner emulator ==")
    with ReceiverProcess(WEBHOOK_STORE, secret=WEBHOOK_SECRET) as receiver:
        say(f"Refiner webhook receiver listening on {receiver.url} (store {WEBHOOK_STORE.name})")
        webhook_args = ("--webhook-url", receiver.url + "webhooks")
        secret_args = ("--webhook-secret", WEBHOOK_SECRET)
        with EmulatorProcess(*EMULATOR_ARGS, *webhook_args, *secret_args) as emulator:
            say(f"Refiner emulator listening on {emulator.api_url} (key demo-key)")
            api = Api(emulator)
            sent = api.trigger_webhooks()
            delivered = [d for d in emulator.wait_for_webhooks(sent) if d["delivered"]]
            say(f"Triggered {sent} webhooks (response, tag, segment); {len(delivered)} delivered")
            env = meltano_env(emulator)
            say("\n== Installing the Meltano plugins (once; later runs reuse the venvs) ==")
            meltano(["install"], env, "install.log")
            extract(emulator, env)
            transform(env)
            reverse(emulator, env)
            api.session.close()
        say("\nStopped the emulator.")
    say("Stopped the webhook receiver.")
    say(f"Demo finished in {time.monotonic() - started:.0f}s. Explore: duckdb {WAREHOUSE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
