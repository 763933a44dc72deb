"""One builder per action, each keyed in the ledger's own vocabulary (the file format)."""

from __future__ import annotations

import pytest

from target_refiner.ledger import keys as ledger
from target_refiner.mapping import CALL_BUILDERS, ApiCall, CallContext, Rejection, RowMapper
from target_refiner.mapping_settings import ACTIONS, parse_stream_mapping

ROW = {"uid": "u1", "mail": "a@b.c", "ev": "Paid", "seg": "S1", "plan": "pro"}
RAW = {"user_id": "uid", "email": "mail", "event": "ev", "segment_uuid_field": "seg"}


def built(action: str) -> ApiCall:
    mapping = parse_stream_mapping("s", {**RAW, "action": action})
    return CALL_BUILDERS[action](ROW, CallContext(mapping, "s", ("uid",), truncate=False))


def test_every_action_has_its_own_builder():
    assert set(CALL_BUILDERS) == set(ACTIONS)
    for action in ACTIONS:
        call = built(action)
        assert call.action == action
        assert call.identifiers == ("id:u1", "email:a@b.c")
        assert call.user_key == "id:u1"


@pytest.mark.parametrize(
    ("action", "kind", "marker"),
    [
        ("track", ledger.LEDGER_TRACK, ledger.SENT),
        ("add_to_segment", ledger.LEDGER_SEGMENT, ledger.MEMBER),
        ("remove_from_segment", ledger.LEDGER_SEGMENT, ledger.NOT_MEMBER),
        ("delete_contact", ledger.LEDGER_DELETED, ledger.DELETED),
    ],
)
def test_builders_key_their_calls_in_the_ledger_vocabulary(action, kind, marker):
    call = built(action)
    assert call.ledger_key is not None
    assert (call.ledger_key.kind, call.payload_hash) == (kind, marker)


def test_identify_is_remembered_by_its_payload_hash():
    call = built("identify")
    assert call.ledger_key == ledger.identify_key("id:u1")
    assert len(call.payload_hash) == 64


def test_the_ledger_vocabulary_is_the_file_format():
    # These strings are stored in every ledger file; renaming one would re-send everything.
    assert (
        ledger.LEDGER_IDENTIFY,
        ledger.LEDGER_SEGMENT,
        ledger.LEDGER_DELETED,
        ledger.LEDGER_TRACK,
    ) == ("identify", "segment", "deleted", "track")
    assert (ledger.MEMBER, ledger.NOT_MEMBER, ledger.DELETED, ledger.SENT) == (
        "member",
        "not-member",
        "deleted",
        "sent",
    )
    assert ledger.identifiers_of({"id": 7, "email": "a@b.c"}) == ("id:7", "email:a@b.c")


def test_keys_move_under_the_person_but_events_stay_keyed_by_identity():
    assert ledger.segment_key("email:a@b.c", "S").under_person("id:1") == ledger.segment_key(
        "id:1", "S"
    )
    event = ledger.track_key("identity", "events")
    assert event.under_person("id:1") is event


def test_a_stream_without_mapping_rejects_every_row():
    result = RowMapper(None, stream="orders").map({"id": 1})
    assert isinstance(result, Rejection)
    assert "stream 'orders' has no entry in `mappings`" in result.reason
