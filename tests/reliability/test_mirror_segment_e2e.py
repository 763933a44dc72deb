"""mirror_segment end to end: the target-refiner console script against the emulator process.

The acceptance sequence of issue 10 (set A, then B, then B again, an empty set, a 60% shrink, a
member added by hand), then each way a mirror could lose or skip a row silently: what reaches
the emulator, what its segment holds afterwards, and which STATE came out are checked every
time.
"""

from __future__ import annotations

import pytest

from tests.reliability.audiences import (
    AUDIENCE,
    audience,
    by_method,
    jsonl,
    last_seq,
    member_ids,
    members,
    mirror_config,
    sync_calls,
)
from tests.reliability.target_processes import last_error_line, run_target, states_of

A = range(1, 101)
B = range(41, 141)


@pytest.fixture
def segment(emu):
    """A new, empty manual segment."""
    return emu.add_segment("Churn risk")


def mirror(emu, config, tmp_path, ids, name, **kwargs):
    """One run; returns (exit code, sync-segment calls, STATE lines, last log line)."""
    seq = last_seq(emu)
    result = run_target(config, audience(ids, **kwargs), tmp_path, name)
    return result.returncode, sync_calls(emu, seq), states_of(result.stdout), result


def test_a_then_b_then_b_again_then_empty_then_a_large_shrink(emu, config, tmp_path, segment):
    cfg = mirror_config(config, segment)

    code, calls, states, _ = mirror(emu, cfg, tmp_path, A, "a")
    assert code == 0
    assert by_method(calls) == {"POST": 100}
    assert member_ids(emu, segment) == set(A)
    assert states == [{"audience": 100}]

    code, calls, states, result = mirror(emu, cfg, tmp_path, B, "b")
    assert code == 0
    assert by_method(calls) == {"POST": 40, "DELETE": 40}
    assert {c["params"]["id"] for c in calls if c["method"] == "POST"} == set(range(101, 141))
    assert {c["params"]["id"] for c in calls if c["method"] == "DELETE"} == {
        str(i) for i in range(1, 41)
    }
    assert member_ids(emu, segment) == set(B)
    assert "40 added, 40 removed, 60 unchanged, 0 rejected" in result.stderr
    assert states == [{"audience": 100}]

    code, calls, _, result = mirror(emu, cfg, tmp_path, B, "b-again")
    assert code == 0
    assert calls == []
    assert "0 added, 0 removed, 100 unchanged, 0 rejected" in result.stderr

    code, calls, states, result = mirror(emu, cfg, tmp_path, [], "empty")
    assert code == 1
    line = last_error_line(result.stderr)
    assert "Mirror refused, nothing was changed" in line
    assert "the rows list nobody" in line
    assert "Traceback" not in result.stderr
    assert calls == []
    assert states == []  # the STATE after the refused rows never goes out
    assert member_ids(emu, segment) == set(B)

    shrunk = range(41, 81)  # 60 of the 100 members leave
    code, calls, states, result = mirror(emu, cfg, tmp_path, shrunk, "shrink")
    assert code == 1
    assert "it would remove 60 of its 100 members (60%)" in last_error_line(result.stderr)
    assert "`allow_large_removals: true`" in last_error_line(result.stderr)
    assert calls == []
    assert states == []
    assert member_ids(emu, segment) == set(B)

    allowed = {**cfg, "allow_large_removals": True}
    code, calls, states, _ = mirror(emu, allowed, tmp_path, shrunk, "shrink-allowed")
    assert code == 0
    assert by_method(calls) == {"DELETE": 60}
    assert member_ids(emu, segment) == set(shrunk)
    assert states == [{"audience": 40}]


@pytest.mark.parametrize("remove_unlisted", [True, False])
def test_a_member_added_by_hand(emu, config, tmp_path, segment, remove_unlisted):
    cfg = mirror_config(config, segment, remove_unlisted=remove_unlisted)
    assert mirror(emu, cfg, tmp_path, range(1, 11), "first")[0] == 0
    emu.api.ok("POST", "/sync-segment", json={"segment_uuid": segment, "id": "by-hand"})
    emu.api.ok("POST", "/sync-segment", json={"segment_uuid": segment, "email": "Hand@Example.com"})

    code, calls, _, result = mirror(emu, cfg, tmp_path, range(1, 11), "again")
    assert code == 0
    hand = {c["remote_id"] or c["email"] for c in members(emu, segment)} - {
        str(i) for i in range(1, 11)
    }
    if remove_unlisted:
        assert sorted(
            (c["method"], c["params"].get("id") or c["params"]["email"]) for c in calls
        ) == [
            ("DELETE", "Hand@Example.com"),
            ("DELETE", "by-hand"),
        ]
        assert hand == set()
        assert "0 added, 2 removed, 10 unchanged" in result.stderr
    else:
        assert calls == []
        assert hand == {"by-hand", "Hand@Example.com"}
        assert "2 unlisted members kept (remove_unlisted: false)" in result.stderr


def test_emails_match_whatever_their_case_and_spaces(emu, config, tmp_path, segment):
    """Refiner finds contacts by email regardless of case; so does the diff."""
    cfg = mirror_config(config, segment)
    rows = [{"email": "Ann@Example.com"}, {"email": "bob@example.com"}]
    assert mirror(emu, cfg, tmp_path, [], "first", rows=rows)[0] == 0
    assert sorted(c["email"] for c in members(emu, segment)) == [
        "Ann@Example.com",
        "bob@example.com",
    ]
    again = [{"email": "  ann@EXAMPLE.com "}, {"email": "BOB@example.com"}]
    code, calls, _, _ = mirror(emu, cfg, tmp_path, [], "again", rows=again)
    assert code == 0
    assert calls == []


def test_a_person_named_by_id_and_by_email_is_one_member(emu, config, tmp_path, segment):
    """An email-only member is the person a row names with that email and a user id."""
    cfg = mirror_config(config, segment)
    emu.api.ok("POST", "/sync-segment", json={"segment_uuid": segment, "email": "cy@example.com"})
    rows = [{"user_id": 7, "email": "CY@example.com"}, {"email": "cy@example.com"}]
    code, calls, _, result = mirror(emu, cfg, tmp_path, [], "both", rows=rows)
    assert code == 0
    assert calls == []  # neither an add by id (a second contact) nor a removal by email
    assert "0 added, 0 removed, 1 unchanged" in result.stderr
    assert "(2 rows listing 1 people, 1 members before, 1 duplicate rows)" in result.stderr


def test_rows_naming_nobody_are_dead_lettered_and_duplicates_counted(
    emu, config, tmp_path, segment
):
    cfg = mirror_config(config, segment)
    rows = [{"user_id": None, "email": None}, {"user_id": 3}, {"user_id": "3"}, {"email": "  "}]
    code, calls, _, result = mirror(emu, cfg, tmp_path, [1, 2], "rows", rows=rows)
    assert code == 0
    assert member_ids(emu, segment) == {1, 2, 3}
    assert by_method(calls) == {"POST": 3}
    assert "1 duplicate rows" in result.stderr
    dead = jsonl(tmp_path / "state" / "dead-letter.jsonl")
    assert [d["record"] for d in dead] == [{"user_id": None, "email": None}, {"email": "  "}]
    assert "no user id and no email" in dead[0]["reason"]
    assert "the email is blank" in dead[1]["reason"]


def test_an_add_refused_by_refiner_goes_to_the_dead_letter_file(emu, config, tmp_path, segment):
    cfg = mirror_config(config, segment)
    rows = [{"email": "not-an-email"}]
    code, calls, states, result = mirror(emu, cfg, tmp_path, [1], "bad", rows=rows)
    assert code == 0
    assert by_method(calls) == {"POST": 2}
    assert member_ids(emu, segment) == {1}
    assert "1 added, 0 removed, 0 unchanged, 1 rejected" in result.stderr
    dead = jsonl(tmp_path / "state" / "dead-letter.jsonl")
    assert [(d["record"], d["status"]) for d in dead] == [({"email": "not-an-email"}, 400)]
    assert states == [{"audience": 1}]


def test_unknown_or_automatic_segments_stop_before_any_call(emu, config, tmp_path):
    automatic = next(s for s in emu.api.items("/segments") if not s["is_manual"])
    for name, uuid, expected in [
        ("unknown", "00000000-0000-4000-8000-000000000000", "is not a segment of this Refiner"),
        ("automatic", automatic["uuid"], "is not a manual segment"),
    ]:
        seq = last_seq(emu)
        result = run_target(mirror_config(config, uuid), audience(A), tmp_path, name)
        assert result.returncode == 1
        line = last_error_line(result.stderr)
        assert f"Setting `mappings.{AUDIENCE}.segment_uuid`" in line
        assert expected in line
        assert result.stdout == ""
        assert {c["path"] for c in emu.calls(since_seq=seq)} == {"/v1/", "/v1/segments"}


def test_segment_uuid_field_rows_of_an_unusable_segment_are_dead_lettered(
    emu, config, tmp_path, segment
):
    automatic = next(s for s in emu.api.items("/segments") if not s["is_manual"])["uuid"]
    cfg = mirror_config(config, segment, segment_uuid_field="segment")
    rows = [{"user_id": i, "segment": segment} for i in (1, 2)] + [
        {"user_id": 3, "segment": automatic},
        {"user_id": 4},
    ]
    code, calls, _, result = mirror(emu, cfg, tmp_path, [], "field", rows=rows)
    assert code == 0
    assert member_ids(emu, segment) == {1, 2}
    assert {c["params"]["segment_uuid"] for c in calls} == {segment}
    dead = jsonl(tmp_path / "state" / "dead-letter.jsonl")
    reasons = {d["record"]["user_id"]: d["reason"] for d in dead}
    assert "is not a manual segment" in reasons[3]
    assert "segment uuid field 'segment' is empty" in reasons[4]
    assert "Summary for stream 'audience': 4 rows in, 2 sent, 0 skipped unchanged" in result.stderr


def test_an_incremental_input_is_refused_before_any_call(emu, config, tmp_path, segment):
    cfg = mirror_config(config, segment)
    assert mirror(emu, cfg, tmp_path, A, "full")[0] == 0
    bookmark = {
        "bookmarks": {AUDIENCE: {"replication_key": "updated_at", "replication_key_value": "x"}}
    }
    code, calls, states, result = mirror(emu, cfg, tmp_path, [101], "incremental", state=bookmark)
    assert code == 1
    line = last_error_line(result.stderr)
    assert f"Stream '{AUDIENCE}' (mirror_segment) cannot be mirrored" in line
    assert f"bookmarks.{AUDIENCE}.replication_key_value" in line
    assert calls == []
    assert states == []
    assert member_ids(emu, segment) == set(A)

    said = mirror_config(config, segment, incremental=True)
    result = run_target(said, audience(A), tmp_path, "said")
    assert result.returncode == 1
    assert "says the input is incremental" in last_error_line(result.stderr)


def test_only_rows_of_the_activated_version_count(emu, config, tmp_path, segment):
    cfg = mirror_config(config, segment)
    old = [
        {"type": "RECORD", "stream": AUDIENCE, "record": {"user_id": i}, "version": 1}
        for i in range(200, 205)
    ]
    messages = audience(range(1, 11), version=2)
    messages[1:1] = old  # rows of an older read, before the new version is activated
    seq = last_seq(emu)
    result = run_target(cfg, messages, tmp_path, "versions")
    assert result.returncode == 0
    assert member_ids(emu, segment) == set(range(1, 11))
    assert by_method(sync_calls(emu, seq)) == {"POST": 10}
    assert "5 rows of older versions (not listed)" in result.stderr
    assert "ACTIVATE_VERSION message received but not implemented" not in result.stderr


def test_dry_run_lists_the_would_be_adds_and_removes(emu, config, tmp_path, segment):
    cfg = mirror_config(config, segment)
    assert mirror(emu, cfg, tmp_path, A, "a")[0] == 0
    dry = {**cfg, "dry_run": True}
    code, calls, states, result = mirror(emu, dry, tmp_path, B, "dry")
    assert code == 0
    assert calls == []
    assert states == []
    assert "Dry run: mirror of segment 'Churn risk'" in result.stderr
    assert "would add 40 and remove 40, 60 unchanged" in result.stderr
    written = jsonl(tmp_path / "state" / "dry-run.jsonl")
    assert sorted((w["method"], w["action"]) for w in written) == sorted(
        [("POST", "mirror_segment")] * 40 + [("DELETE", "mirror_segment")] * 40
    )
    assert member_ids(emu, segment) == set(A)

    # A dry run that a real run would refuse lists its calls, then stops the same way.
    code, calls, _, result = mirror(emu, dry, tmp_path, range(1, 11), "dry-refused")
    assert code == 1
    line = last_error_line(result.stderr)
    assert "dry run: the would-be calls are in" in line
    assert "it would remove 90 of its 100 members (90%)" in line
    assert calls == []


def test_state_waits_for_the_mirror_and_other_streams_flow(emu, config, tmp_path, segment):
    """A STATE after the mirror's rows is held until its diff is applied, then goes out."""
    cfg = mirror_config(config, segment)
    cfg["mappings"]["users"] = {"action": "identify", "user_id": "id"}
    users = {
        "type": "SCHEMA",
        "stream": "users",
        "key_properties": ["id"],
        "schema": {"type": "object", "properties": {"id": {"type": "string"}}},
    }
    messages = [
        users,
        {"type": "RECORD", "stream": "users", "record": {"id": "u1"}},
        {"type": "STATE", "value": {"step": 1}},
        *audience(A, state={"step": 2}),
        {"type": "RECORD", "stream": "users", "record": {"id": "u2"}},
        {"type": "STATE", "value": {"step": 3}},
    ]
    result = run_target(cfg, messages, tmp_path, "mixed")
    assert result.returncode == 0
    assert states_of(result.stdout) == [{"step": 1}, {"step": 3}]
    assert member_ids(emu, segment) == set(A)
    assert emu.contact("u2") is not None


def test_reject_ratio_counts_the_rows_held_for_the_mirror(emu, config, tmp_path, segment):
    """Rows waiting for the diff are rows handled: 5% rejects pass 10%; 30% stop the run."""
    cfg = {**mirror_config(config, segment), "max_reject_ratio": 0.1}
    nobody = [{"user_id": None}] * 10
    code, calls, states, result = mirror(emu, cfg, tmp_path, range(1, 191), "few", rows=nobody)
    assert code == 0, result.stderr[-2000:]
    assert by_method(calls) == {"POST": 190}
    assert states == [{AUDIENCE: 190}]

    many = [{"user_id": None}] * 90
    code, calls, states, result = mirror(emu, cfg, tmp_path, range(1, 211), "many", rows=many)
    assert code == 1
    assert "Setting `max_reject_ratio` (10.00%) exceeded" in last_error_line(result.stderr)
    assert calls == []  # a run that rejected too much never mirrors
    assert states == []
    assert member_ids(emu, segment) == set(range(1, 191))


def test_one_segment_mirrored_by_two_streams_is_refused(emu, config, tmp_path, segment):
    cfg = mirror_config(config, segment)
    cfg["mappings"]["other"] = {**cfg["mappings"][AUDIENCE]}
    other = [{**m, "stream": "other"} for m in audience([5, 6]) if m["type"] != "STATE"]
    seq = last_seq(emu)
    result = run_target(cfg, [*audience([1, 2]), *other], tmp_path, "two")
    assert result.returncode == 1
    assert f"Segment {segment} is mirrored by the streams ['audience', 'other']" in (
        last_error_line(result.stderr)
    )
    assert sync_calls(emu, seq) == []
