"""The mirror's pure parts: which rows make the list, who they list, the diff and its guards."""

from __future__ import annotations

import pytest

from target_refiner.audience import Audience, SegmentList, replication_bookmark
from target_refiner.mapping import Rejection
from target_refiner.mapping_settings import parse_stream_mapping
from target_refiner.members import Member, email_key
from target_refiner.mirror_plan import plan_mirror, refusal

MAPPING = parse_stream_mapping(
    "audience",
    {"action": "mirror_segment", "user_id": "uid", "email": "mail", "segment_uuid": "S"},
)


def listed(*rows: dict) -> SegmentList:
    out = SegmentList()
    for row in rows:
        out.add(row, row)
    return out


def member(remote_id=None, email=None, uuid="c") -> Member:
    return Member(uuid, remote_id, email)


def test_emails_are_compared_trimmed_and_lower_cased():
    assert email_key("  Ann@Example.COM ") == "ann@example.com"
    assert email_key("   ") is None
    assert email_key(None) is None


def test_ids_are_compared_as_strings_and_members_named_by_id_stay():
    plan = plan_mirror(
        listed({"id": 1}, {"id": "2"}), [member("1"), member("2")], remove_unlisted=True
    )
    assert (plan.unchanged, plan.adds, plan.removes) == (2, [], [])


def test_a_row_with_id_and_email_is_the_email_only_member():
    rows = listed({"id": 7, "email": "Cy@x.io"})
    plan = plan_mirror(rows, [member(None, "cy@X.io")], remove_unlisted=True)
    assert (plan.unchanged, plan.adds, plan.removes) == (1, [], [])


def test_an_email_only_row_keeps_a_member_with_that_email_and_any_id():
    plan = plan_mirror(listed({"email": "a@x.io"}), [member("9", "A@x.io")], remove_unlisted=True)
    assert (plan.unchanged, plan.adds, plan.removes) == (1, [], [])


def test_another_id_with_the_same_email_is_another_person():
    plan = plan_mirror(
        listed({"id": 7, "email": "a@x.io"}), [member("9", "a@x.io")], remove_unlisted=True
    )
    assert [p.identity for p in plan.adds] == [{"id": 7, "email": "a@x.io"}]
    assert plan.removes == [member("9", "a@x.io")]


def test_an_email_only_row_named_by_an_id_row_is_not_added_twice():
    plan = plan_mirror(
        listed({"id": 7, "email": "a@x.io"}, {"email": "A@x.io"}), [], remove_unlisted=True
    )
    assert [p.identity for p in plan.adds] == [{"id": 7, "email": "a@x.io"}]


def test_duplicates_are_counted_not_listed_twice():
    rows = listed({"id": 1}, {"id": "1"}, {"email": "a@x.io"}, {"email": "A@X.IO"})
    assert (rows.rows, rows.people, rows.duplicates) == (4, 2, 2)


@pytest.mark.parametrize("email_row_first", [False, True])
def test_a_person_named_by_id_and_by_email_alone_is_one_person_and_one_duplicate(
    email_row_first,
):
    """The README's definition: the email-only row names the id row's person."""
    rows = [{"id": 7, "email": "a@x.io"}, {"email": "A@x.io"}, {"id": 8}]
    if email_row_first:
        rows.reverse()
    counted = listed(*rows)
    assert (counted.rows, counted.people, counted.duplicates) == (3, 2, 1)
    plan = plan_mirror(counted, [], remove_unlisted=True)
    assert (plan.people, len(plan.adds)) == (2, 2)


def test_members_nobody_can_name_are_left_and_reported():
    unnamed = member(None, None, "anonymous")
    plan = plan_mirror(listed({"id": 1}), [unnamed, member("1")], remove_unlisted=True)
    assert plan.unnamed == [unnamed]
    assert plan.removes == []


def test_an_unlisted_email_only_member_sharing_an_email_is_not_removed_by_it():
    shared = member(None, "a@x.io", "second")
    plan = plan_mirror(listed({"id": 1}), [member("1", "a@x.io"), shared], remove_unlisted=True)
    assert plan.ambiguous == [shared]
    assert plan.removes == []


def test_remove_unlisted_false_only_adds():
    plan = plan_mirror(listed({"id": 2}), [member("1")], remove_unlisted=False)
    assert [p.identity for p in plan.adds] == [{"id": 2}]
    assert (plan.removes, plan.kept) == ([], [member("1")])


@pytest.mark.parametrize(
    ("people", "removing", "members", "ratio", "refused"),
    [
        (0, 3, 3, 1.0, "the rows list nobody"),
        (60, 40, 100, 0.5, None),
        (40, 60, 100, 0.5, "60 of its 100 members (60%)"),
        (1, 1, 2, 0.5, None),
        (10, 1, 11, 0.0, "more than `max_removal_ratio` (0%)"),
        (0, 0, 0, 0.5, None),
    ],
)
def test_guards(people, removing, members, ratio, refused):
    rows = listed(*({"id": i} for i in range(people)))
    segment = [member(str(i)) for i in range(people)] + [
        member(f"gone-{i}") for i in range(removing)
    ]
    segment += [member(None, None, f"anon-{i}") for i in range(members - len(segment))]
    plan = plan_mirror(rows, segment, remove_unlisted=True)
    assert len(plan.removes) == removing
    why = refusal(plan, max_removal_ratio=ratio)
    if refused is None:
        assert why is None
    else:
        assert why is not None
        assert refused in why


def test_audience_keeps_the_activated_version_only():
    audience = Audience("audience", MAPPING)
    assert audience.add({"uid": 1}, {"uid": 1}, 1) is None
    audience.activate(2)
    assert audience.add({"uid": 2}, {"uid": 2}, 2) is None
    assert audience.add({"uid": 3}, {"uid": 3}, None) is None
    lists = audience.segments()
    assert list(lists["S"].by_id) == ["2"]
    assert audience.superseded == 2


def test_audience_without_activation_lists_every_version():
    audience = Audience("audience", MAPPING)
    for version, uid in ((1, 1), (2, 2), (2, 1), (None, 3)):
        assert audience.add({"uid": uid}, {"uid": uid}, version) is None
    lists = audience.segments()
    assert sorted(lists["S"].by_id) == ["1", "2", "3"]
    assert (lists["S"].rows, lists["S"].duplicates) == (4, 1)


def test_audience_rejects_rows_that_name_nobody():
    audience = Audience("audience", MAPPING)
    assert isinstance(audience.add({"uid": None, "mail": None}, {}, None), Rejection)
    assert isinstance(audience.add({"mail": "  "}, {}, None), Rejection)
    assert audience.segments()["S"].people == 0  # a constant segment is mirrored, even empty


@pytest.mark.parametrize(
    ("bookmark", "where"),
    [
        (
            {"replication_key": "updated_at", "replication_key_value": "2024"},
            "replication_key_value",
        ),
        (
            {"progress_markers": {"replication_key": "id", "replication_key_value": 5}},
            "progress_markers",
        ),
        ({"partitions": [{"context": {}, "replication_key": "mtime"}]}, "partitions"),
        ({}, None),
        ({"version": 17}, None),
        ({"starting_replication_value": None, "replication_key_value": None}, None),
        ("junk", None),
    ],
)
def test_replication_bookmarks_are_found_where_the_sdk_puts_them(bookmark, where):
    assert replication_bookmark(bookmark) == where
