"""Settings that name things in the account (a segment, surveys) are checked before they filter.

Why: Refiner answers a filter naming a uuid it does not know with an empty list, so a typo or a
deleted survey made a green run that synced nothing. Before a stream emits its first record,
each uuid its filters name is looked up in the account's listing (the run's shared one: the
forms listing every survey stream reads, archived surveys included, since an archived survey
still has responses), and a missing one stops the run with one line naming the setting.
Only selected streams run, so only their filters are checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from refiner_http.stops import RunStoppedError
from tap_refiner.client import FORMS_LISTING_PARAMS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from tap_refiner.client import RefinerStream


class Listing(NamedTuple):
    """Where the things a setting names are listed, and what they are called."""

    kind: str
    path: str
    params: Mapping[str, Any]


SURVEYS = Listing("survey", "/forms", FORMS_LISTING_PARAMS)
SEGMENTS = Listing("segment", "/segments", {})

#: Settings naming uuids in the account -> the listing that must contain them.
ACCOUNT_FILTERS: Mapping[str, Listing] = {
    "contacts_segment_uuid": SEGMENTS,
    "contacts_form_uuid": SURVEYS,
    "form_uuids": SURVEYS,
}


def named_uuids(value: Any) -> list[str]:  # noqa: ANN401 - a string or a list of them
    """The uuids a setting's value names (one, a list, or none)."""
    values = value if isinstance(value, list) else [value]
    return [str(v) for v in values if v]


def check_account_filters(stream: RefinerStream, settings: Iterable[str]) -> None:
    """Raise ``RunStoppedError`` naming the first of ``settings`` that names an unknown uuid."""
    for setting in settings:
        wanted = named_uuids(stream.config.get(setting))
        if not wanted:
            continue
        listing = ACCOUNT_FILTERS[setting]
        items = stream.shared_items(listing.path, listing.params)
        known = {str(item.get("uuid")) for item in items}
        missing = [uuid for uuid in wanted if uuid not in known]
        if missing:
            raise RunStoppedError(missing_message(setting, listing, missing, len(known)))


def missing_message(setting: str, listing: Listing, missing: list[str], listed: int) -> str:
    """E.g. "Setting `form_uuids`: survey 'abc' does not exist in this Refiner account (…)"."""
    names = ", ".join(repr(uuid) for uuid in missing)
    verb = "does" if len(missing) == 1 else "do"
    query = "&".join(f"{key}={value}" for key, value in listing.params.items())
    where = f"GET {listing.path}" + (f"?{query}" if query else "")
    archived = ", archived ones included" if listing is SURVEYS else ""
    return (
        f"Setting `{setting}`: {listing.kind} {names} {verb} not exist in this Refiner account "
        f"({where} lists {listed} {listing.kind}s{archived}); fix the uuid or remove it from "
        "the setting"
    )
