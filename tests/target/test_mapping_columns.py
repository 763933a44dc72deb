"""Which columns a mapping names, and when a schema can tell a stream's columns."""

from __future__ import annotations

import pytest

from target_refiner.columns import ColumnCheck, MappingColumnsError, declared_columns, named_columns
from target_refiner.mapping_settings import parse_stream_mapping


def test_every_setting_that_names_a_column_is_checked():
    mapping = parse_stream_mapping(
        "s",
        {
            "action": "identify",
            "user_id": ["uid", "legacy_id"],
            "email": "mail",
            "attributes": ["plan"],
            "exclude": ["ssn"],
            "account": {"id": "company_id", "name": "company", "attributes": ["tier"]},
        },
    )
    assert named_columns(mapping) == [
        ("user_id", "uid"),
        ("user_id", "legacy_id"),
        ("email", "mail"),
        ("attributes", "plan"),
        ("exclude", "ssn"),
        ("account.id", "company_id"),
        ("account.name", "company"),
        ("account.attributes", "tier"),
    ]
    track = parse_stream_mapping("t", {"action": "track", "email": "mail", "event": "what"})
    assert ("event", "what") in named_columns(track)
    seg = parse_stream_mapping(
        "g", {"action": "add_to_segment", "user_id": "id", "segment_uuid_field": "seg"}
    )
    assert ("segment_uuid_field", "seg") in named_columns(seg)


@pytest.mark.parametrize(
    ("schema", "columns"),
    [
        ({"properties": {"a": {}, "b": {}}}, {"a", "b"}),
        ({"properties": {"a": {}}, "additionalProperties": False}, {"a"}),
        ({"properties": {"a": {}}, "additionalProperties": True}, None),
        ({"properties": {"a": {}}, "additionalProperties": {"type": "string"}}, None),
        ({"properties": {}}, None),
    ],
)
def test_when_the_schema_can_tell(schema, columns):
    found = declared_columns(schema)
    assert (None if found is None else set(found)) == columns


def test_the_first_row_decides_once():
    check = ColumnCheck("s", parse_stream_mapping("s", {"user_id": "uid"}), default=False)
    check.check_schema({"properties": {}})
    assert check.pending
    with pytest.raises(MappingColumnsError, match=r"`mappings\.s\.user_id` names column 'uid'"):
        check.check_row({"id": 1})
    assert not check.pending


def test_sdk_metadata_columns_are_not_checked():
    mapping = parse_stream_mapping("s", {"user_id": "id", "exclude": ["_sdc_batched_at"]})
    ColumnCheck("s", mapping, default=False).check_schema({"properties": {"id": {}}})
