"""Each action and mapping option, replayed from .singer fixtures against the emulator."""

from __future__ import annotations

import json

import requests

from target_refiner.progress import StreamRejectedError
from tests.target.target_helpers import (
    FIXTURES,
    api_calls,
    api_writes,
    record,
    run_target,
    schema,
    state,
)


def manual_segment(emu) -> str:
    reply = requests.get(
        emu.api_url + "/segments",
        headers={"Authorization": f"Bearer {emu.api_key}"},
        timeout=10,
    )
    reply.raise_for_status()
    return next(s["uuid"] for s in reply.json()["items"] if s["is_manual"])


def test_identify_default_mapping_shapes_and_rejections(emu, config):
    run = run_target(config, "users.singer")
    calls = api_calls(emu, "/identify-user")
    by_id = {c["params"]["id"]: c for c in calls}
    assert sorted(by_id) == ["u1", "u2", "u5"]
    assert all(c["method"] == "POST" and c["auth"] == "bearer" for c in calls)
    assert by_id["u1"]["params"] == {
        "id": "u1",
        "email": "u1@example.com",
        "name": "Ada",
        "plan": "pro",
        "seats": 5,
        "mrr": 49.5,
        "is_admin": True,
        "created_at": "2024-01-02T03:04:05+00:00",
        "birthday": "1990-05-06",
        "address_city": "Oslo",
        "address_geo_lat": 59.9,
    }
    assert by_id["u2"]["params"]["is_admin"] is False
    contact = emu.contact("u1")
    assert contact["attributes"]["address_city"] == "Oslo"
    assert contact["identify_count"] == 1
    # Rejections: the array row and the long string, each with its reason; the run went on.
    dead = {d["record"]["id"]: d for d in run.dead_letter()}
    assert sorted(dead) == ["u3", "u4"]
    assert "field 'tags' is an array" in dead["u3"]["reason"]
    assert "field 'bio' is 300 characters" in dead["u4"]["reason"]
    assert {"stream", "record", "reason", "time"} <= set(dead["u4"])
    assert run.states[-1] == {"bookmarks": {"users": {"n": 5}}}


def test_truncate_long_strings(emu, config):
    run_target({**config, "truncate_long_strings": True}, "users.singer")
    (u4,) = [c for c in api_calls(emu, "/identify-user") if c["params"]["id"] == "u4"]
    assert u4["params"]["bio"] == "x" * 255


def test_email_only_rows_and_user_id_field(emu, config):
    run = run_target(config, "users_by_email.singer")
    params = [c["params"] for c in api_calls(emu, "/identify-user")]
    assert sorted(params, key=json.dumps) == sorted(
        [{"email": "only@example.com", "plan": "pro"}, {"id": "p2", "plan": "free"}],
        key=json.dumps,
    )
    (dead,) = run.dead_letter()
    assert dead["reason"].startswith("no user id and no email")


def test_identify_with_attributes_exclude_and_account(emu, config):
    config["mappings"] = {
        "members": {
            "user_id": "uid",
            "email": "mail",
            "exclude": ["secret_note"],
            "account": {
                "id": "company_id",
                "name": "company",
                "attributes": ["industry", "employees"],
            },
        }
    }
    run_target(config, "accounts.singer")
    params = {c["params"]["id"]: c["params"] for c in api_calls(emu, "/identify-user")}
    assert params["m1"] == {
        "id": "m1",
        "email": "m1@example.com",
        "role": "admin",
        "account": {"id": "acme", "name": "Acme Inc.", "industry": "Software", "employees": 50},
    }
    assert params["m2"] == {"id": "m2", "role": "viewer"}
    assert emu.contact("m1")["account"]["remote_id"] == "acme"

    emu.reset()
    config["mappings"]["members"] = {"user_id": "uid", "attributes": ["role"]}
    config["full_resend"] = True
    run_target(config, "accounts.singer")
    params = [c["params"] for c in api_calls(emu, "/identify-user")]
    assert sorted(params, key=json.dumps) == [
        {"id": "m1", "role": "admin"},
        {"id": "m2", "role": "viewer"},
    ]


def test_track_events_event_field_and_replay_protection(emu, config):
    config["mappings"] = {
        "events": {"action": "track", "user_id": "user_id", "email": "email", "event": "event"}
    }
    run = run_target(config, "events.singer")
    calls = api_calls(emu, "/track-event")
    assert sorted((json.dumps(c["params"], sort_keys=True)) for c in calls) == sorted(
        json.dumps(p, sort_keys=True)
        for p in [
            {"id": "u1", "event": "Signed Up"},
            {"id": "u1", "event": "Upgraded"},
            {"email": "e3@example.com", "event": "Signed Up"},
            {"id": "u2", "event": "Invited"},
        ]
    )
    assert len(emu.events()) == 4
    assert "event field 'event'" in run.dead_letter()[0]["reason"]
    assert run.states[-1] == {"bookmarks": {"events": 5}}
    # A replay of the same events (same key properties) sends nothing.
    before = len(api_writes(emu))
    run_target(config, "events.singer")
    assert len(api_writes(emu)) == before
    assert len(emu.events()) == 4


def test_track_event_name_constant_without_key_properties(emu, config):
    config["mappings"] = {"clicks": {"action": "track", "user_id": "uid", "event_name": "Clicked"}}
    msgs = [
        schema("clicks", {"uid": {"type": "string"}, "at": {"type": "string"}}),
        record("clicks", {"uid": "a", "at": "1"}),
        record("clicks", {"uid": "a", "at": "2"}),
        record("clicks", {"uid": "a", "at": "1"}),  # same row again: same identity (row hash)
    ]
    run_target(config, msgs)
    events = emu.events()
    assert [e["event"] for e in events] == ["Clicked", "Clicked"]


def test_segment_add_and_remove(emu, config):
    segment = manual_segment(emu)
    text = (FIXTURES / "segments.singer").read_text().replace("SEG", segment)
    config["mappings"] = {
        "segment_adds": {"action": "add_to_segment", "user_id": "user_id", "segment_uuid": segment},
        "segment_removals": {
            "action": "remove_from_segment",
            "user_id": "user_id",
            "segment_uuid_field": "segment",
        },
    }
    path = config["state_dir"] + "-segments.singer"
    with open(path, "w") as f:  # noqa: PTH123
        f.write(text)
    run_target(config, path)
    calls = api_calls(emu, "/sync-segment")
    posts = sorted(c["params"]["id"] for c in calls if c["method"] == "POST")
    deletes = [c for c in calls if c["method"] == "DELETE"]
    assert posts == ["u1", "u2"]
    assert [d["params"] for d in deletes] == [{"segment_uuid": segment, "id": "u2"}]
    assert all(c["status"] == 200 for c in calls)
    member_of = [s["uuid"] for s in emu.contact("u1")["segments"]]
    assert segment in member_of
    assert segment not in [s["uuid"] for s in emu.contact("u2")["segments"]]
    # Membership is in the ledger: replaying the input re-sends only u2's add and remove
    # (each differs from the membership the ledger holds at its turn); u1's add is skipped.
    emu.reset()
    run_target(config, path)
    again = [(c["method"], c["params"]["id"]) for c in api_calls(emu, "/sync-segment")]
    assert again == [("POST", "u2"), ("DELETE", "u2")]


def test_api_rejection_goes_to_dead_letter_with_status_and_body(emu, config):
    config["mappings"] = {
        "segment_adds": {"action": "add_to_segment", "user_id": "user_id", "segment_uuid": "nope"}
    }
    msgs = [
        schema("segment_adds", {"user_id": {"type": "string"}}),
        record("segment_adds", {"user_id": "u1"}),
        state({"s": 1}),
    ]
    run = run_target(config, msgs, raises=True)
    assert isinstance(run.error, StreamRejectedError)  # its only row was rejected
    (dead,) = run.dead_letter()
    assert dead["status"] == 404
    assert dead["body"] == {"error": "Segment not found"}
    assert "Segment not found" in dead["reason"]
    assert emu.api_key not in json.dumps(dead)
    assert run.states == [{"s": 1}]


def test_delete_contact(emu, config):
    run_target(config, "users.singer")
    assert emu.contact("u1") is not None
    config["mappings"] = {
        "churned": {"action": "delete_contact", "user_id": "id", "email": "email"}
    }
    run = run_target(config, "deletes.singer")
    calls = api_calls(emu, "/contact")
    assert sorted((c["method"], json.dumps(c["params"])) for c in calls) == [
        ("DELETE", json.dumps({"email": "gone@example.com"})),
        ("DELETE", json.dumps({"id": "u1"})),
    ]
    assert emu.contact("u1") is None
    # unknown contact (404): already gone, so acknowledged, not dead-lettered
    assert [d for d in run.dead_letter() if d["stream"] == "churned"] == []
    # After the delete, the same identify must be sent again (the contact no longer exists).
    emu.reset()
    run_target(config, "users.singer")
    assert "u1" in [c["params"]["id"] for c in api_calls(emu, "/identify-user")]


def test_default_action_none_rejects_unmapped_streams(emu, config):
    config["default_action"] = "none"
    run = run_target(config, "users.singer")
    assert api_writes(emu) == []
    dead = run.dead_letter()
    assert len(dead) == 5
    assert all("has no entry in `mappings`" in d["reason"] for d in dead)
    assert run.states[-1] == {"bookmarks": {"users": {"n": 5}}}


def test_unchanged_identify_is_skipped_and_changes_are_sent(emu, config):
    run_target(config, "users.singer")
    first = len(api_calls(emu, "/identify-user"))
    assert first == 3
    run_target(config, "users.singer")
    assert len(api_calls(emu, "/identify-user")) == first
    msgs = [
        schema("users", {"id": {"type": "string"}, "plan": {"type": "string"}}),
        record("users", {"id": "u2", "plan": "enterprise"}),
    ]
    run_target(config, msgs)
    calls = api_calls(emu, "/identify-user")
    assert len(calls) == first + 1
    assert calls[-1]["params"] == {"id": "u2", "plan": "enterprise"}


def test_same_user_rows_applied_in_order(emu, config):
    msgs = [schema("users", {"id": {"type": "string"}, "step": {"type": "integer"}})]
    msgs += [record("users", {"id": "same", "step": i}) for i in range(20)]
    run_target({**config, "max_concurrency": 8, "max_requests_per_user_per_minute": 6000}, msgs)
    steps = [c["params"]["step"] for c in api_calls(emu, "/identify-user")]
    assert steps == list(range(20))
    assert emu.contact("same")["attributes"]["step"] == 19


def test_full_resend_ignores_the_ledger(emu, config):
    run_target(config, "users.singer")
    run_target({**config, "full_resend": True}, "users.singer")
    assert len(api_calls(emu, "/identify-user")) == 6
    assert emu.contact("u1")["identify_count"] == 2


def test_dry_run_writes_calls_and_sends_nothing(emu, config, tmp_path):
    out = tmp_path / "dry.jsonl"
    config["mappings"] = {
        "events": {"action": "track", "user_id": "user_id", "email": "email", "event": "event"}
    }
    run = run_target({**config, "dry_run": True, "dry_run_path": str(out)}, "events.singer")
    assert api_writes(emu) == []  # only the read-only key check
    assert run.states == []  # a dry run never moves the bookmark
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 4
    assert lines[0] == {
        "run_id": lines[-1]["run_id"],  # every line of the file is of this one run
        "stream": "events",
        "action": "track",
        "method": "POST",
        "path": "/track-event",
        "json": {"id": "u1", "event": "Signed Up"},
    }
    assert emu.api_key not in out.read_text()
