"""The rows of a mirror_segment stream: which rows make the complete list, and who they list.

"Complete" means the stream's rows in this run, up to the end of the input. When the tap sends
ACTIVATE_VERSION for the stream (SDK taps do, before a full-table read, with
``emit_activate_version_messages``), only the rows carrying the latest activated version count;
rows of other versions are counted as superseded, never listed. An input that is incremental
(:func:`replication_bookmark` finds a replication-key bookmark for the stream in the tap's
STATE) is not a complete list at all: ``mirror.py`` refuses it.

People are listed the way Refiner finds a contact (``members.py`` for the comparison rules):

- a row with a user id lists that id; its email, if any, is remembered with it (an email-only
  contact with that email is the same person: Refiner adopts it once a call names both);
- a row with only an email lists that email;
- a row naming someone already listed is a duplicate (counted; the first row is kept, as it
  arrived, for the dead-letter file should Refiner refuse the add). An email-only row whose
  email a row with a user id also names lists that row's person: one person, one duplicate row,
  whichever row comes first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from target_refiner.mapping import Rejection, identity_of, segment_of
from target_refiner.members import email_key
from target_refiner.values import RowError

if TYPE_CHECKING:
    from target_refiner.mapping_settings import StreamMapping


def _has_replication_key(bookmark: object) -> bool:
    return isinstance(bookmark, dict) and (
        bool(bookmark.get("replication_key")) or bookmark.get("replication_key_value") is not None
    )


def replication_bookmark(bookmark: object) -> str | None:
    """Where a stream's STATE bookmark holds a replication key (the SDK's places), or None."""
    if not isinstance(bookmark, dict):
        return None
    if _has_replication_key(bookmark):
        return "replication_key_value"
    if _has_replication_key(bookmark.get("progress_markers")):
        return "progress_markers"
    partitions = bookmark.get("partitions")
    if isinstance(partitions, list) and any(_has_replication_key(p) for p in partitions):
        return "partitions"
    return None


@dataclass
class Listed:
    """One person the rows list, and the first row that named them (as it arrived)."""

    identity: dict[str, Any]
    record: dict[str, Any]


@dataclass
class SegmentList:
    """Who the rows list for one segment."""

    by_id: dict[str, Listed] = field(default_factory=dict)
    #: Rows with an email and no user id, by compared email.
    by_email: dict[str, Listed] = field(default_factory=dict)
    #: Compared email -> the user ids of rows that named it with an id.
    id_emails: dict[str, list[str]] = field(default_factory=dict)
    rows: int = 0

    @property
    def people(self) -> int:
        """How many people the rows list (an email-only row an id row names is that person)."""
        email_only = sum(1 for email in self.by_email if email not in self.id_emails)
        return len(self.by_id) + email_only

    @property
    def duplicates(self) -> int:
        """Rows naming a person another row already named."""
        return self.rows - self.people

    def add(self, identity: dict[str, Any], record: dict[str, Any]) -> None:
        """List the person a row names (``identity`` as ``mapping.identity_of`` returns it)."""
        self.rows += 1
        self._list(identity, record)

    def _list(self, identity: dict[str, Any], record: dict[str, Any]) -> bool:
        """Add a person; False when the rows already list them."""
        email = email_key(identity.get("email"))
        if "id" not in identity:
            if email is None or email in self.by_email:
                return False
            self.by_email[email] = Listed(identity, record)
            return True
        key = str(identity["id"])
        if key in self.by_id:
            return False
        self.by_id[key] = Listed(identity, record)
        if email is not None:
            self.id_emails.setdefault(email, []).append(key)
        return True

    def merge(self, other: SegmentList) -> None:
        """Add the rows of ``other`` (rows of another version, when none was activated)."""
        for listed in [*other.by_id.values(), *other.by_email.values()]:
            self._list(listed.identity, listed.record)
        self.rows += other.rows


class Audience:
    """One mirror_segment stream's rows in this run, by version and segment."""

    def __init__(self, stream: str, mapping: StreamMapping) -> None:
        """A constant ``segment_uuid`` is mirrored even when no row arrives (an empty list)."""
        self.stream = stream
        self.mapping = mapping
        self._versions: dict[int | None, dict[str, SegmentList]] = {}
        self.activated: int | None = None

    def add(
        self, record: dict[str, Any], arrived: dict[str, Any], version: object
    ) -> Rejection | None:
        """Keep the row's person for its segment; a Rejection when it names nobody or no segment."""
        try:
            identity = identity_of(record, self.mapping)
            segment = segment_of(record, self.mapping)
        except RowError as exc:
            return Rejection(str(exc))
        if "id" not in identity and email_key(identity.get("email")) is None:
            return Rejection("no user id, and the email is blank")
        key = version if isinstance(version, int) and not isinstance(version, bool) else None
        lists = self._versions.setdefault(key, {})
        lists.setdefault(segment, SegmentList()).add(identity, arrived)
        return None

    def activate(self, version: int) -> None:
        """ACTIVATE_VERSION: from now on, the rows of ``version`` are the list."""
        self.activated = version

    @property
    def superseded(self) -> int:
        """Rows that do not carry the activated version (0 when none was activated)."""
        if self.activated is None:
            return 0
        return sum(
            listed.rows
            for version, lists in self._versions.items()
            if version != self.activated
            for listed in lists.values()
        )

    def segments(self) -> dict[str, SegmentList]:
        """The list of each segment the rows name (and of the constant one, maybe empty)."""
        if self.activated is not None:
            chosen = dict(self._versions.get(self.activated, {}))
        else:
            chosen = {}
            for lists in self._versions.values():
                for segment, listed in lists.items():
                    if segment in chosen:
                        chosen[segment].merge(listed)
                    else:
                        chosen[segment] = listed
        if self.mapping.segment_uuid:
            chosen.setdefault(self.mapping.segment_uuid, SegmentList())
        return chosen
