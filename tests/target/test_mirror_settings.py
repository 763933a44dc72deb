"""mirror_segment's settings: the mapping entry and the two removal guards."""

from __future__ import annotations

import pytest

from target_refiner.mapping_settings import SettingsError, parse_stream_mapping
from target_refiner.settings import CONFIG_SCHEMA, check_settings, settings_from_config

BASE = {"api_key": "k", "api_url": "http://127.0.0.1:1/v1"}


def test_mirror_needs_a_segment_and_an_identifier():
    with pytest.raises(SettingsError, match="needs exactly one of `segment_uuid`"):
        parse_stream_mapping("a", {"action": "mirror_segment", "user_id": "id"})
    with pytest.raises(SettingsError, match="needs `user_id` and/or `email`"):
        parse_stream_mapping("a", {"action": "mirror_segment", "segment_uuid": "S"})


def test_remove_unlisted_defaults_to_true_and_can_be_turned_off():
    raw = {"action": "mirror_segment", "user_id": "id", "segment_uuid": "S"}
    assert parse_stream_mapping("a", raw).remove_unlisted is True
    assert parse_stream_mapping("a", {**raw, "remove_unlisted": False}).remove_unlisted is False


def test_a_mirror_said_to_be_incremental_is_refused_at_once():
    raw = {"action": "mirror_segment", "user_id": "id", "segment_uuid": "S", "incremental": True}
    with pytest.raises(SettingsError, match=r"`mappings\.a` \(mirror_segment\) says the input"):
        parse_stream_mapping("a", raw)
    assert parse_stream_mapping("a", {**raw, "incremental": False}).action == "mirror_segment"


@pytest.mark.parametrize("key", ["remove_unlisted", "incremental"])
def test_mirror_keys_on_another_action_are_an_error(key):
    raw = {"action": "add_to_segment", "user_id": "id", "segment_uuid": "S", key: True}
    with pytest.raises(SettingsError, match="only `action: mirror_segment` uses"):
        parse_stream_mapping("a", raw)


def test_removal_guard_settings():
    properties = CONFIG_SCHEMA["properties"]
    assert properties["max_removal_ratio"]["default"] == 0.5
    assert properties["allow_large_removals"]["default"] is False
    defaults = settings_from_config(BASE)
    assert (defaults.max_removal_ratio, defaults.allow_large_removals) == (0.5, False)
    strict = settings_from_config({**BASE, "max_removal_ratio": 0, "allow_large_removals": True})
    assert (strict.max_removal_ratio, strict.allow_large_removals) == (0.0, True)
    assert check_settings({**BASE, "max_removal_ratio": 1.5}) == [
        "Setting `max_removal_ratio` must be between 0 and 1, got 1.5."
    ]
