"""Pure mapping rules: row -> ApiCall or Rejection, and settings validation."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from target_refiner.mapping import ApiCall, Rejection, event_identity, map_record
from target_refiner.mapping_settings import (
    SettingsError,
    default_mapping,
    parse_mappings,
    parse_stream_mapping,
)


def call_of(row, raw=None, *, stream="s", keys=(), truncate=False, default="identify"):  # noqa: PLR0913
    mapping = parse_stream_mapping(stream, raw) if raw is not None else default_mapping(default)
    result = map_record(row, mapping, stream=stream, key_properties=keys, truncate=truncate)
    assert isinstance(result, ApiCall), result
    return result


def rejection_of(row, raw=None, *, truncate=False, default="identify"):
    mapping = parse_stream_mapping("s", raw) if raw is not None else default_mapping(default)
    result = map_record(row, mapping, stream="s", truncate=truncate)
    assert isinstance(result, Rejection), result
    return result.reason


def test_default_identify_flattens_and_converts():
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    call = call_of(
        {
            "id": "u1",
            "email": "a@b.c",
            "n": 3,
            "f": 1.5,
            "d": decimal.Decimal("2.50"),
            "ok": True,
            "when": when,
            "day": dt.date(2024, 1, 2),
            "address": {"city": "Oslo", "geo": {"lat": 59.9}},
            "gone": None,
            "_sdc_extracted_at": "x",
        }
    )
    assert call.method == "POST"
    assert call.path == "/identify-user"
    assert call.json_body == {
        "id": "u1",
        "email": "a@b.c",
        "n": 3,
        "f": 1.5,
        "d": 2.5,
        "ok": True,
        "when": "2024-01-02T03:04:05+00:00",
        "day": "2024-01-02",
        "address_city": "Oslo",
        "address_geo_lat": 59.9,
        "gone": None,
    }
    assert call.user_key == "id:u1"


def test_default_user_id_falls_back_to_user_id_then_email():
    assert call_of({"user_id": 7, "x": 1}).json_body == {"id": 7, "x": 1}
    assert call_of({"email": "e@x.io"}).user_key == "email:e@x.io"


def test_attributes_include_list_and_exclude():
    raw = {"user_id": "uid", "attributes": ["plan", "seats", "missing"], "exclude": ["seats"]}
    body = call_of({"uid": "u", "plan": "pro", "seats": 3, "other": 1}, raw).json_body
    assert body == {"id": "u", "plan": "pro"}


def test_exclude_with_all_fields_and_reserved_names_left_out():
    raw = {"user_id": "uid", "email": "mail", "exclude": ["secret"]}
    body = call_of(
        {"uid": "u", "mail": "m@x.io", "secret": 1, "id": 99, "api_key": "k", "plan": "x"}, raw
    ).json_body
    assert body == {"id": "u", "email": "m@x.io", "plan": "x"}


def test_account_object():
    raw = {
        "user_id": "uid",
        "account": {"id": "company_id", "name": "company", "attributes": ["industry"]},
    }
    row = {"uid": "u", "company_id": "acme", "company": "Acme", "industry": "SW", "role": "a"}
    body = call_of(row, raw).json_body
    assert body == {
        "id": "u",
        "role": "a",
        "account": {"id": "acme", "name": "Acme", "industry": "SW"},
    }
    no_account = call_of({"uid": "u", "company_id": None, "role": "a"}, raw).json_body
    assert no_account == {"id": "u", "role": "a"}


def test_track_with_event_field_and_constant():
    call = call_of(
        {"uid": 1, "ev": "Signed Up"}, {"action": "track", "user_id": "uid", "event": "ev"}
    )
    assert (call.method, call.path, call.json_body) == (
        "POST",
        "/track-event",
        {"id": 1, "event": "Signed Up"},
    )
    const = {"action": "track", "email": "mail", "event_name": "Paid"}
    assert call_of({"mail": "a@b.c"}, const).json_body == {"email": "a@b.c", "event": "Paid"}


def test_track_identity_is_key_values_or_row_plus_what_is_sent():
    raw = {"action": "track", "user_id": "uid", "event_name": "E"}
    keyed = call_of({"uid": 1, "k": 5}, raw, stream="ev", keys=("k",))
    assert keyed.ledger_key is not None
    body = {"id": 1, "event": "E"}
    assert keyed.ledger_key.user_key == event_identity({"k": 5}, ("k",), body)
    assert keyed.ledger_key.scope == "ev"
    # the same key values with another event or person are another event
    by_field = {"action": "track", "user_id": "uid", "event": "ev"}
    other_event = call_of({"uid": 1, "k": 5, "ev": "F"}, by_field, stream="ev", keys=("k",))
    other_person = call_of({"uid": 2, "k": 5}, raw, stream="ev", keys=("k",))
    assert other_event.ledger_key is not None
    assert other_person.ledger_key is not None
    assert len({keyed.ledger_key, other_event.ledger_key, other_person.ledger_key}) == 3
    # an exact replay of the row has the same identity
    again = call_of({"k": 5, "uid": 1}, raw, stream="ev", keys=("k",))
    assert again.ledger_key == keyed.ledger_key
    unkeyed = call_of({"uid": 1, "k": 5}, raw)
    assert unkeyed.ledger_key is not None
    assert unkeyed.ledger_key.user_key == event_identity({"k": 5, "uid": 1}, (), body)


def test_identifiers_name_the_person_by_id_first_then_email():
    raw = {"action": "identify", "user_id": "uid", "email": "mail"}
    assert call_of({"uid": 7, "mail": "a@b.c"}, raw).identifiers == ("id:7", "email:a@b.c")
    assert call_of({"mail": "a@b.c"}, raw).identifiers == ("email:a@b.c",)


def test_segment_add_and_remove():
    add = call_of({"uid": "u"}, {"action": "add_to_segment", "user_id": "uid", "segment_uuid": "S"})
    assert (add.method, add.path, add.json_body, add.params) == (
        "POST",
        "/sync-segment",
        {"segment_uuid": "S", "id": "u"},
        None,
    )
    raw = {"action": "remove_from_segment", "email": "mail", "segment_uuid_field": "seg"}
    remove = call_of({"mail": "a@b.c", "seg": "S2"}, raw)
    assert (remove.method, remove.json_body, remove.params) == (
        "DELETE",
        None,
        {"segment_uuid": "S2", "email": "a@b.c"},
    )


def test_delete_contact_uses_query_and_one_identifier():
    call = call_of({"id": "u", "email": "a@b.c"}, default="delete_contact")
    assert (call.method, call.path, call.params, call.json_body) == (
        "DELETE",
        "/contact",
        {"id": "u"},
        None,
    )


@pytest.mark.parametrize(
    ("row", "raw", "reason"),
    [
        ({"plan": "x"}, None, "no user id and no email"),
        ({"id": {"a": 1}}, None, "user id field 'id' must be a string or integer"),
        ({"id": True}, None, "must be a string or integer"),
        ({"email": 5}, None, "email field 'email' must be a string"),
        ({"id": "u", "tags": ["a"]}, None, "field 'tags' is an array"),
        ({"id": "u", "bio": "x" * 256}, None, "field 'bio' is 256 characters"),
        ({"id": "u", "x": float("nan")}, None, "not a JSON number"),
        ({"id": "u", "x": b"raw"}, None, "unsupported type bytes"),
        ({"id": "u", "ev": ""}, {"action": "track", "user_id": "id", "event": "ev"}, "event field"),
        (
            {"id": "u"},
            {"action": "add_to_segment", "user_id": "id", "segment_uuid_field": "seg"},
            "segment uuid field 'seg'",
        ),
    ],
)
def test_rejections_carry_the_reason(row, raw, reason):
    assert reason in rejection_of(row, raw)


def test_long_strings_truncated_when_asked():
    body = call_of({"id": "u", "bio": "x" * 300}, truncate=True).json_body
    assert body == {"id": "u", "bio": "x" * 255}


def test_unmapped_stream_with_default_none_is_rejected():
    assert default_mapping("none") is None
    result = map_record({"id": 1}, None, stream="orders")
    assert isinstance(result, Rejection)
    assert "stream 'orders' has no entry in `mappings`" in result.reason


def test_identify_hash_changes_with_payload():
    a = call_of({"id": "u", "plan": "a"})
    b = call_of({"id": "u", "plan": "b"})
    assert a.ledger_key == b.ledger_key
    assert a.payload_hash != b.payload_hash
    assert call_of({"plan": "a", "id": "u"}).payload_hash == a.payload_hash


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("nope", "`mappings.s` must be an object"),
        ({"action": "fly", "user_id": "id"}, "`mappings.s.action` must be one of"),
        ({"action": "identify"}, "needs `user_id` and/or `email`"),
        ({"action": "track", "user_id": "id"}, "exactly one of `event` (field) or `event_name`"),
        (
            {"action": "track", "user_id": "id", "event": "e", "event_name": "E"},
            "exactly one of `event`",
        ),
        ({"action": "add_to_segment", "user_id": "id"}, "`segment_uuid` or `segment_uuid_field`"),
        ({"user_id": "id", "attributes": ["email"]}, "reserved names ['email']"),
        ({"user_id": "id", "account": {"name": "n"}}, "`mappings.s.account` must be an object"),
        ({"user_id": "id", "colour": "x"}, "unknown keys ['colour']"),
        ({"user_id": ["id", 3]}, "`mappings.s.user_id` must be a field name"),
    ],
)
def test_invalid_mapping_settings_name_the_setting(raw, message):
    with pytest.raises(SettingsError) as info:
        parse_mappings({"s": raw})
    assert message in str(info.value)


def test_default_action_must_not_need_a_mapping():
    with pytest.raises(SettingsError, match="`default_action`"):
        default_mapping("track")
