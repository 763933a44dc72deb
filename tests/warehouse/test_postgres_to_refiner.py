"""PostgreSQL -> Refiner through real Meltano: ``tap-postgres target-refiner``.

The source (refiner_sync.sql) holds what a warehouse hands a target: numeric and decimal values,
dates, timestamps with and without zone, json and jsonb, arrays and NULLs, in tables and a view.
What arrives at the emulator is checked call by call: traits keep their types (numbers as JSON
numbers, dates as ISO strings), events are tracked once, and a re-run sends only what changed.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.meltano.meltano_helpers import summary_counts

pytestmark = pytest.mark.meltano

SOURCE_SQL = Path(__file__).with_name("refiner_sync.sql")
RUN = ("--environment=warehouse", "run", "tap-postgres", "target-refiner")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
USERS = "refiner_sync-users"
EVENTS = "refiner_sync-events"
UTC = dt.timezone.utc


def last_seq(emulator) -> int:
    calls = emulator.calls()
    return calls[-1]["seq"] if calls else 0


def writes_since(emulator, seq: int) -> list[dict]:
    return [c for c in emulator.calls(since_seq=seq) if c["method"] in WRITE_METHODS]


def sent_to(calls: list[dict], path: str) -> list[dict]:
    return [c["params"] for c in calls if c["path"] == path]


def instant(value: object) -> dt.datetime:
    """An ISO 8601 string in UTC (offset zero), as a point in time; fails on anything else."""
    assert isinstance(value, str), value
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.utcoffset() == dt.timedelta(0), value
    return parsed


@pytest.fixture
def reverse_etl(meltano_project, refiner_stack, warehouse, tmp_path):
    """The source loaded, and how to run the pipeline against the module's emulator."""
    warehouse.execute(SOURCE_SQL.read_text(encoding="utf-8"))
    emulator = refiner_stack.emulator
    env = {
        **warehouse.libpq_env(),
        "REFINER_API_KEY": emulator.api_key,
        "TARGET_REFINER_API_URL": emulator.api_url,
        "TARGET_REFINER_STATE_DIR": str(tmp_path / "ledger"),
        "TARGET_REFINER_PROGRESS_INTERVAL_SECONDS": "0",
    }

    def run(**extra_env: str) -> tuple[list[dict], str]:
        """One Meltano run: the write calls it made, and its log."""
        seq = last_seq(emulator)
        result = meltano_project.run(*RUN, env={**env, **extra_env})
        return writes_since(emulator, seq), result.stdout + result.stderr

    return run


def test_users_identified_with_typed_traits_and_events_tracked_once(
    reverse_etl, refiner_stack, warehouse
):
    calls, _ = reverse_etl()
    # The `warehouse` environment paces in the warehouse itself (`pacing_url: postgresql://`).
    assert warehouse.scalar("SELECT count(*) FROM refiner_pacing WHERE name = 'key'") == 1
    identified = {params["id"]: params for params in sent_to(calls, "/v1/identify-user")}
    assert sorted(identified) == [1, 2, 3]
    assert len(calls) == 3 + 3  # three users, three events: nothing else

    ann = identified[1]
    # numeric(12,2), decimal, double precision and integer columns arrive as JSON numbers.
    assert ann["lifetime_value"] == 1999.99
    assert ann["plan_price"] == 49.5
    assert ann["score"] == 0.75
    assert ann["seats"] == 12
    for name in ("lifetime_value", "plan_price", "score", "seats"):
        assert isinstance(ann[name], (int, float)), (name, ann[name])
    # A date stays the ISO day; timestamps are ISO strings of the right instant, with zone.
    assert ann["signed_up_on"] == "2024-02-29"
    assert instant(ann["last_login_at"]) == dt.datetime(2024, 3, 1, 9, 15, tzinfo=UTC)
    assert instant(ann["trial_ends_at"]) == dt.datetime(2024, 4, 1, tzinfo=UTC)
    # jsonb and json objects become `parent_child` traits; a boolean stays a boolean.
    assert ann["profile_city"] == "Oslo"
    assert ann["profile_level"] == 3
    assert ann["settings_theme"] == "dark"
    assert ann["is_admin"] is True
    assert ann["email"] == "ann@acme.test"
    assert ann["account"] == {
        "id": "acme",
        "name": "Acme Inc",
        "account_tier": "gold",
        "account_mrr": 1234.5,
    }
    assert not any(name.startswith("_sdc_") for name in ann)

    # NULLs are sent as null (they clear the trait); the account without tier keeps its id.
    bob = identified[2]
    for name in ("lifetime_value", "score", "seats", "signed_up_on", "last_login_at", "profile"):
        assert bob[name] is None, (name, bob[name])
    assert bob["account"] == {
        "id": "globex",
        "name": "Globex",
        "account_tier": None,
        "account_mrr": None,
    }

    # Zeros stay numbers, not strings nor nulls; no email, no account: identified by id alone.
    third = identified[3]
    assert (third["lifetime_value"], third["seats"], third["plan_price"]) == (0, 0, 0)
    assert third["score"] == 0.001
    assert third["is_admin"] is False
    assert third["nickname"] == ""
    assert instant(third["last_login_at"]) == dt.datetime(
        2025, 6, 30, 23, 59, 59, 123456, tzinfo=UTC
    )
    assert "email" not in third
    assert "account" not in third
    assert not any(name.startswith("profile_") for name in third)  # {} holds no trait

    stored = refiner_stack.emulator.contact("1")
    assert stored is not None
    assert stored["email"] == "ann@acme.test"

    tracked = sorted((p["id"], p["event"]) for p in sent_to(calls, "/v1/track-event"))
    assert tracked == [(1, "exported_report"), (1, "upgraded"), (2, "invited_teammate")]

    # Second run: tap-postgres reads both full tables again; the ledger sends nothing.
    calls, log = reverse_etl()
    assert calls == []
    assert summary_counts(log, USERS) == {"in": 3, "sent": 0, "skipped": 3, "rejected": 0}
    assert summary_counts(log, EVENTS) == {"in": 3, "sent": 0, "skipped": 3, "rejected": 0}

    # A changed user and a new event are the only calls of the next run.
    warehouse.execute(
        "UPDATE app.people SET seats = 13 WHERE id = 1;"
        "INSERT INTO refiner_sync.events (user_id, event, occurred_at) "
        "VALUES (3, 'opened_app', now());"
    )
    calls, _ = reverse_etl()
    assert sorted((c["path"], c["params"]["id"]) for c in calls) == [
        ("/v1/identify-user", 1),
        ("/v1/track-event", 3),
    ]
    assert sent_to(calls, "/v1/identify-user")[0]["seats"] == 13
    assert sent_to(calls, "/v1/track-event") == [{"id": 3, "event": "opened_app"}]


def test_full_table_with_activate_version_sends_no_deletes(reverse_etl, warehouse):
    """ACTIVATE_VERSION says "rows not in this read are gone"; target-refiner ignores it."""
    versioned = {"TAP_POSTGRES_EMIT_ACTIVATE_VERSION_MESSAGES": "true"}
    calls, log = reverse_etl(**versioned)
    assert len(sent_to(calls, "/v1/identify-user")) == 3
    assert len(sent_to(calls, "/v1/track-event")) == 3
    assert "ACTIVATE_VERSION message received but not implemented by this target" in log

    # A user and an event disappear from the source: no delete, no segment removal follows.
    warehouse.execute(
        "DELETE FROM refiner_sync.events WHERE user_id = 2;DELETE FROM app.people WHERE id = 2;"
    )
    calls, log = reverse_etl(**versioned)
    assert calls == []
    assert summary_counts(log, USERS) == {"in": 2, "sent": 0, "skipped": 2, "rejected": 0}


def test_array_traits_are_rejected_not_joined(reverse_etl, warehouse, tmp_path):
    """An array column among the traits: rows carrying one go to the dead-letter file."""
    warehouse.execute(
        "DROP VIEW refiner_sync.users; CREATE VIEW refiner_sync.users AS "
        "SELECT p.id, p.email, p.seats, p.tags, a.id AS account_id, a.name AS account_name, "
        "a.tier AS account_tier, a.mrr AS account_mrr "  # the columns the mapping names
        "FROM app.people AS p LEFT JOIN app.accounts AS a ON a.id = p.account_id"
    )
    calls, log = reverse_etl()
    assert sorted(p["id"] for p in sent_to(calls, "/v1/identify-user")) == [2]  # tags NULL
    assert summary_counts(log, USERS)["rejected"] == 2
    dead = [
        json.loads(line)
        for line in (tmp_path / "ledger" / "dead-letter.jsonl").read_text().splitlines()
    ]
    assert sorted(d["record"]["id"] for d in dead) == [1, 3]
    assert all("field 'tags' is an array" in d["reason"] for d in dead)
    assert sorted(d["record"]["tags"] for d in dead) == [[], ["vip", "beta"]]
