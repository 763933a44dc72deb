"""What the tap relies on in singer-sdk beyond its public hooks is listed once, and exists."""

from __future__ import annotations

from singer_sdk import Tap
from singer_sdk.streams import RESTStream, Stream

from tap_refiner.client import SDK_PRIVATE_MEMBERS
from tap_refiner.tap import TapRefiner

CONFIG = {"api_key": "key", "api_url": "http://127.0.0.1:9/v1"}


def test_every_private_sdk_member_relied_on_still_exists_in_the_sdk():
    stream = TapRefiner(config=CONFIG).streams["responses"]
    classes = {"Stream": Stream, "RESTStream": RESTStream, "Tap": Tap}
    instances = {
        "Stream": stream,
        "RESTStream": stream,
        "StreamStateManager": stream.state_manager,
        "Tap": stream.tap,
    }
    for member, why in SDK_PRIVATE_MEMBERS.items():
        owner, name = member.split(".")
        assert name.startswith("_") or owner == "StreamStateManager", member
        assert why
        defined_by_sdk = hasattr(classes.get(owner), name) or name in vars(instances[owner])
        assert defined_by_sdk, f"singer-sdk no longer has {member}"


def test_overridden_sdk_hooks_carry_override():
    stream = TapRefiner(config=CONFIG).streams["contacts"]
    for name in ("get_url_params", "post_process", "parse_response", "_generate_record_messages"):
        assert getattr(getattr(type(stream), name), "__override__", False), name
