"""Refiner -> PostgreSQL through real Meltano: ``tap-refiner target-postgres``, run twice.

Every stream lands as a table whose columns have types one can query (timestamps, jsonb, dates,
numbers), the row counts are what the emulator serves, and the second run upserts: the same
rows, with the values changed in between. The warehouse's time zone is not UTC, and every
timestamp still holds the API's UTC time.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tap_refiner import schemas
from tap_refiner.sync_log_streams import CHANGES_SCHEMA, RUNS_SCHEMA
from tap_refiner.webhook_events import SCHEMA as WEBHOOK_EVENTS

pytestmark = pytest.mark.meltano

STREAM_SCHEMAS = {
    "contacts": schemas.CONTACTS,
    "segments": schemas.SEGMENTS,
    "segment_memberships": schemas.SEGMENT_MEMBERSHIPS,
    "responses": schemas.RESPONSES,
    "answers": schemas.ANSWERS,
    "forms": schemas.FORMS,
    "questions": schemas.QUESTIONS,
    "account": schemas.ACCOUNT_USAGE,
    "reports": schemas.REPORTS,
    "webhook_events": WEBHOOK_EVENTS,
    # Selected by default like webhook_events; empty here (`sync_log_store` unset).
    "sync_runs": RUNS_SCHEMA,
    "sync_changelog": CHANGES_SCHEMA,
    "sync_snapshot": CHANGES_SCHEMA,
}
# The column types a JSON Schema property may land as for the table to be useful: a text
# column for a timestamp, a number or an object would push parsing onto every query.
USEFUL_TYPES = {
    "date-time": {"timestamp without time zone", "timestamp with time zone"},
    "date": {"date"},
    "string": {"text", "character varying"},
    "integer": {"smallint", "integer", "bigint"},
    "number": {"numeric", "double precision", "real"},
    "boolean": {"boolean"},
    "object": {"jsonb"},
    "array": {"ARRAY", "jsonb"},
    "mixed": {"jsonb"},
}
REPORT_TYPES = 3  # tap-refiner's default report_types: nps, csat, ratings
REPORT_DAYS = 30  # its default reports_days


def json_kind(prop: dict) -> str:
    """``date-time``, ``date``, the one non-null JSON type, or ``mixed``."""
    if prop.get("format") in {"date-time", "date"}:
        return prop["format"]
    types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    kinds = [t for t in types if t != "null"]
    return kinds[0] if len(kinds) == 1 else "mixed"


def column_types(warehouse, data_type: str = "data_type") -> dict[str, dict[str, str]]:
    """``{table: {column: type}}`` in schema ``refiner``; ``udt_name`` says ``_text`` for text[]."""
    found: dict[str, dict[str, str]] = {}
    for table, column, name in warehouse.rows(
        f"SELECT table_name, column_name, {data_type} FROM information_schema.columns "  # noqa: S608 - a column name of ours
        "WHERE table_schema = 'refiner' ORDER BY table_name, ordinal_position"
    ):
        found.setdefault(table, {})[column] = name
    return found


def table_counts(warehouse) -> dict[str, int]:
    return {
        table: int(warehouse.scalar(f'SELECT count(*) FROM refiner."{table}"'))  # noqa: S608 - catalog names
        for table in STREAM_SCHEMAS
    }


def served_counts(stack, webhooks: int) -> dict[str, int]:
    """The rows each stream should hold, counted from what the emulator's API serves."""
    contacts = stack.client.items("/contacts")
    forms = stack.client.items("/forms", include_info=1, include_config=1)
    responses = stack.client.items("/responses")
    return {
        "contacts": len(contacts),
        "segments": len(stack.client.items("/segments")),
        "segment_memberships": sum(len(c.get("segments") or ()) for c in contacts),
        "responses": len(responses),
        "answers": sum(len(r.get("data") or {}) for r in responses),
        "forms": len(forms),
        "questions": sum(
            1
            for form in forms
            for element in (form.get("config") or {}).get("form_elements") or ()
            if element.get("id") is not None
        ),
        "account": 1,
        "reports": len(forms) * REPORT_TYPES * REPORT_DAYS,
        "webhook_events": webhooks,
        "sync_runs": 0,
        "sync_changelog": 0,
        "sync_snapshot": 0,
    }


def utc(text: str) -> dt.datetime:
    """An API timestamp as the naive UTC time a ``timestamp`` column holds."""
    return dt.datetime.fromisoformat(text).astimezone(dt.timezone.utc).replace(tzinfo=None)


def test_refiner_to_postgres_typed_tables_and_upsert(
    meltano_project, refiner_stack, warehouse, tmp_path
):
    stack = refiner_stack
    stack.wait_for_webhooks(0)
    webhooks = stack.trigger_webhooks("user-postgres-1")
    stack.wait_for_webhooks(webhooks)
    env = {
        **warehouse.libpq_env(),
        "REFINER_API_KEY": stack.emulator.api_key,
        "TAP_REFINER_API_URL": stack.emulator.api_url,
        "TAP_REFINER_WEBHOOK_STORE": str(stack.store),
        "TAP_REFINER_MAX_TRIES": "3",
        "TARGET_REFINER_STATE_DIR": str(tmp_path / "ledger"),
    }
    run = ("--environment=warehouse", "run", "tap-refiner", "target-postgres")
    meltano_project.run(*run, env=env)
    # The `warehouse` environment paces in the warehouse itself (`pacing_url: postgresql://`).
    assert warehouse.scalar("SELECT count(*) FROM refiner_pacing WHERE name = 'key'") == 1

    # Every stream is a table; every property a column of a useful type.
    types = column_types(warehouse)
    assert set(types) == set(STREAM_SCHEMAS)
    for stream, schema in STREAM_SCHEMAS.items():
        for name, prop in schema["properties"].items():
            kind = json_kind(prop)
            assert types[stream].get(name) in USEFUL_TYPES[kind], (stream, name, kind, types)
    # target-postgres 0.8.1 has no timestamptz: its `date-time` handler is a plain TIMESTAMP.
    assert types["contacts"]["first_seen_at"] == "timestamp without time zone"
    assert types["contacts"]["attributes"] == "jsonb"
    assert types["reports"]["date"] == "date"
    assert types["reports"]["nps"] == "numeric"
    assert types["answers"]["value_number"] == "numeric"
    assert types["forms"]["responses_count"] == "bigint"
    arrays = column_types(warehouse, "udt_name")
    assert (arrays["forms"]["channels"], arrays["contacts"]["segments"]) == ("_text", "_jsonb")

    # Row counts are the emulator's data, stream by stream.
    first = table_counts(warehouse)
    assert first == served_counts(stack, webhooks)

    # Values: UTC timestamps whatever the warehouse's time zone, objects as JSON, dates as days.
    contact = next(c for c in stack.client.items("/contacts") if c["attributes"])
    stored = warehouse.rows(
        "SELECT first_seen_at, last_seen_at, attributes FROM refiner.contacts WHERE uuid = %s",
        contact["uuid"],
    )
    assert stored == [
        (utc(contact["first_seen_at"]), utc(contact["last_seen_at"]), contact["attributes"])
    ]
    today = dt.datetime.now(dt.timezone.utc).date()
    days = warehouse.rows("SELECT min(date), max(date) FROM refiner.reports")
    assert days == [(today - dt.timedelta(days=REPORT_DAYS - 1), today)]

    # Between the runs: a contact's trait changes, and one column is made timestamptz by hand
    # (what a user wanting timestamptz does once; the target keeps the column's type).
    stack.client.ok(
        "POST", "/identify-user", json={"id": contact["remote_id"], "plan": "pg-upsert"}
    )
    warehouse.execute(
        "ALTER TABLE refiner.contacts ALTER COLUMN last_seen_at TYPE timestamptz "
        "USING last_seen_at AT TIME ZONE 'UTC'"
    )
    meltano_project.run(*run, env=env)

    second = table_counts(warehouse)
    assert second == {**first, "account": 2}  # the account stream is one snapshot per run
    assert second == {**served_counts(stack, webhooks), "account": 2}
    changed = next(c for c in stack.client.items("/contacts") if c["uuid"] == contact["uuid"])
    stored = warehouse.rows(
        "SELECT attributes, last_seen_at FROM refiner.contacts WHERE uuid = %s", contact["uuid"]
    )
    assert len(stored) == 1
    attributes, last_seen = stored[0]
    assert attributes == changed["attributes"]
    assert attributes["plan"] == "pg-upsert"
    assert column_types(warehouse)["contacts"]["last_seen_at"] == "timestamp with time zone"
    assert last_seen == dt.datetime.fromisoformat(changed["last_seen_at"])
