"""Refiner's truth for mirror_segment: which segments are manual, and who is in one right now.

Both are read through the run's client (``RefinerClient.paginate``: the shared paging of
``refiner_http.page_reader`` with its ``PageGuard``, the run's pacing and retries): the segment
list once per run, each mirrored segment's members once per run, all before any mirror call.
A read that fails stops the run (``RunStoppedError``): a diff against half a member list would
remove people who are members.

How a member is named: ``remote_id`` is the user id it was identified with (compared as a
string, exactly); emails are compared trimmed and lower-cased (:func:`email_key`), as Refiner
finds contacts by email regardless of case. A contact with neither can be in a segment (added in
the dashboard) but cannot be named in a ``sync-segment`` call.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from refiner_http import PagingError, RefinerApiError
from refiner_http.policy import RETRYABLE_EXCEPTIONS
from target_refiner.errors import RunStoppedError
from target_refiner.mapping_settings import MIRROR_SEGMENT

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from refiner_http import RefinerClient
    from target_refiner.mapping_settings import StreamMapping


def email_key(email: object) -> str | None:
    """How emails are compared: trimmed and lower-cased (None for no email)."""
    if not isinstance(email, str) or not email.strip():
        return None
    return email.strip().lower()


def _text(value: object) -> str | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    return str(value)


@dataclass(frozen=True)
class Member:
    """A contact in a segment, as ``GET /contacts?segment_uuid=`` lists it."""

    uuid: str | None
    remote_id: str | None
    email: str | None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Member:
        """A contact item (refiner-api.md §4.1); ids arrive as strings, but numbers are read."""
        return cls(_text(item.get("uuid")), _text(item.get("remote_id")), _text(item.get("email")))

    @property
    def email_key(self) -> str | None:
        """The member's email as compared."""
        return email_key(self.email)

    def as_record(self, segment: str) -> dict[str, Any]:
        """What the dead-letter file shows for a removal Refiner refused."""
        contact = {"uuid": self.uuid, "remote_id": self.remote_id, "email": self.email}
        return {"mirror": "remove", "segment_uuid": segment, "contact": contact}


@contextlib.contextmanager
def reading(what: str, client: RefinerClient) -> Iterator[None]:
    """Any failure while reading ``what`` becomes one line that stops the run."""
    try:
        yield
    except (RefinerApiError, PagingError) as exc:
        msg = f"Cannot read {what}, so nothing was mirrored: {exc}"
        raise RunStoppedError(client.policy.redactor(msg)) from None
    except RETRYABLE_EXCEPTIONS as exc:
        msg = f"Cannot read {what}: {client.policy.gave_up(exc)}"
        raise RunStoppedError(client.policy.redactor(msg)) from None


def read_members(client: RefinerClient, segment: str) -> list[Member]:
    """Every member of ``segment`` now: all pages, one call each."""
    with reading(f"the members of segment {segment} (GET /contacts)", client):
        return [
            Member.from_item(item)
            for item in client.paginate("/contacts", {"segment_uuid": segment})
            if isinstance(item, dict)
        ]


class SegmentCatalog:
    """``GET /segments``, read at most once per run, and what it says about a segment uuid."""

    def __init__(self, client: RefinerClient) -> None:
        """Nothing is read until a segment is looked up."""
        self._client = client
        self._segments: dict[str, dict[str, Any]] | None = None

    def _all(self) -> dict[str, dict[str, Any]]:
        """Every segment's item of ``GET /segments`` (``uuid``, ``name``, ``is_manual``)."""
        if self._segments is None:
            with reading("the segment list (GET /segments)", self._client):
                items = list(self._client.paginate("/segments"))
            self._segments = {
                str(item["uuid"]): item
                for item in items
                if isinstance(item, dict) and item.get("uuid")
            }
        return self._segments

    def name(self, uuid: str) -> str:
        """The segment's name ("" when unknown)."""
        return str(self._all().get(uuid, {}).get("name") or "")

    def problem(self, uuid: str) -> str | None:
        """Why ``uuid`` cannot be mirrored (unknown or not manual), or None."""
        segment = self._all().get(uuid)
        if segment is None:
            return f"segment {uuid} is not a segment of this Refiner project (GET /segments)"
        if segment.get("is_manual") is not True:
            return (
                f"segment '{self.name(uuid)}' ({uuid}) is not a manual segment: Refiner fills "
                "it by its rules, and only manual segments accept sync-segment calls"
            )
        return None

    def check_mappings(self, mappings: Mapping[str, StreamMapping]) -> None:
        """Stop before any call when a mirror mapping's constant ``segment_uuid`` is unusable."""
        for stream, mapping in mappings.items():
            if mapping.action != MIRROR_SEGMENT or not mapping.segment_uuid:
                continue
            problem = self.problem(mapping.segment_uuid)
            if problem is not None:
                msg = f"Setting `mappings.{stream}.segment_uuid`: {problem}. Nothing was sent."
                raise RunStoppedError(msg)
