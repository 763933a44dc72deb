"""Every private singer-sdk member target-refiner relies on still exists (see sdk_private.py)."""

from __future__ import annotations

import inspect

from singer_sdk import Sink

from target_refiner.sdk_private import PRIVATE_SDK_MEMBERS
from target_refiner.target import TargetRefiner


def test_every_private_sdk_member_listed_exists(tmp_path):
    target = TargetRefiner(config={"api_key": "k", "state_dir": str(tmp_path)})
    sink = target.get_sink("s", schema={"properties": {"id": {"type": "string"}}})
    for owner, member, why in PRIVATE_SDK_MEMBERS:
        assert why
        # Instance attributes exist only on an instance: the sink's, else the target's.
        instance = sink if owner is Sink else target if inspect.isclass(owner) else owner
        assert hasattr(owner, member) or hasattr(instance, member), (owner, member)
