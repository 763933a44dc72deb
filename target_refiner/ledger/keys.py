"""The ledger's vocabulary: kinds, keys, markers and what a backend answers.

One entry per ``(kind, user_key, scope)`` with a ``hash``:

- ``identify`` / user key / ``""``: hash of the last acknowledged identify payload;
- ``segment`` / user key / segment uuid: ``member`` or ``not-member`` after the last add/remove;
- ``deleted`` / user key / ``""``: the contact was deleted (a later identify, track or segment
  add clears it, and deleting clears that user's identify and segment rows);
- ``track`` / event identity / stream: the event was sent (identity = the key properties'
  values, or the whole row without key properties, plus what the call sends).

``user_key`` is the *person key* (see ``people.py``); person links map each user id and email
seen to it, so a person named by id in one row and by email in another has one set of entries.

The mapping and the sender build keys only through this module, so the format every backend
stores (SQLite ``sqlite.py``, PostgreSQL ``postgres.py``) is defined here alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

from target_refiner.errors import RunStoppedError

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping

# Kinds: what "the last acknowledged payload" is remembered per. These strings are in every
# ledger file: never rename them.
LEDGER_IDENTIFY = "identify"  # per user key: hash of the identify payload
LEDGER_SEGMENT = "segment"  # per (segment, user key): MEMBER or NOT_MEMBER
LEDGER_DELETED = "deleted"  # per user key: the contact was deleted
LEDGER_TRACK = "track"  # per (event identity, stream): the event was sent

# The hash remembered for calls whose payload needs no comparing.
MEMBER = "member"
NOT_MEMBER = "not-member"
DELETED = "deleted"
SENT = "sent"


class LedgerUnreadableError(RunStoppedError):
    """The ledger file exists but SQLite cannot read it: never treated as an empty ledger."""


class LedgerOfAnotherProjectError(RunStoppedError):
    """The file remembers calls made to another Refiner project than the key's."""


def identifiers_of(identity: Mapping[str, object]) -> tuple[str, ...]:
    """``("id:42", "email:ann@x.io")``: how the ledger names a person's identifiers, id first."""
    names = []
    if "id" in identity:
        names.append(f"id:{identity['id']}")
    if "email" in identity:
        names.append(f"email:{identity['email']}")
    return tuple(names)


class LedgerKey(NamedTuple):
    """Where the ledger remembers a call: ``(kind, user_key, scope)``.

    A named tuple: batches of rows hash thousands of these (a dataclass hashes in Python).
    """

    kind: str
    user_key: str
    scope: str = ""

    def under_person(self, person: str) -> LedgerKey:
        """This key for the person key (``people.py``); track events stay keyed by identity."""
        if self.kind == LEDGER_TRACK or self.user_key == person:
            return self
        return LedgerKey(self.kind, person, self.scope)


def identify_key(user_key: str) -> LedgerKey:
    """The last identify payload acknowledged for this person."""
    return LedgerKey(LEDGER_IDENTIFY, user_key)


def segment_key(user_key: str, segment_uuid: str) -> LedgerKey:
    """Whether this person was last added to or removed from this segment."""
    return LedgerKey(LEDGER_SEGMENT, user_key, segment_uuid)


def deleted_key(user_key: str) -> LedgerKey:
    """Whether this person's contact was deleted."""
    return LedgerKey(LEDGER_DELETED, user_key)


def track_key(event_identity: str, stream: str) -> LedgerKey:
    """Whether this event (of this stream) was sent."""
    return LedgerKey(LEDGER_TRACK, event_identity, stream)


@dataclass(frozen=True)
class LedgerWrite:
    """Remember ``hash`` for ``key`` (an acknowledged call for the person ``user_key``)."""

    key: LedgerKey | None
    hash: str
    user_key: str
    #: (identifier, person) links the row taught us, stored with its acknowledgement.
    links: tuple[tuple[str, str], ...] = ()


class LedgerStore(Protocol):
    """What the sender and the people cache need of a ledger, SQLite or PostgreSQL.

    :class:`Ledger` (a file in ``state_dir``) or ``postgres.PostgresLedger``
    (setting ``ledger_url``).
    """

    def already_done(self, key: LedgerKey | None, payload_hash: str) -> str | None:
        """``"skipped"``, ``"replayed"`` or None (send it)."""

    def lookup_people(self, identifiers: Collection[str]) -> dict[str, str]:
        """Identifier -> person key for those the ledger links."""

    def lookup_entries(self, keys: Collection[LedgerKey]) -> dict[LedgerKey, str]:
        """The remembered hash of each of ``keys`` the ledger holds."""

    def commit(self, writes: Iterable[LedgerWrite]) -> None:
        """Apply acknowledged calls in one transaction, durable when this returns."""

    def merge_people(self, person: str, merged: Iterable[str]) -> None:
        """``merged`` turned out to be ``person``."""

    def count(self) -> int:
        """How many entries the ledger holds."""

    def close(self) -> None:
        """Release the ledger's connections."""


def verdict(key: LedgerKey | None, remembered: str | None, payload_hash: str) -> str | None:
    """What a remembered hash says of a call: ``"skipped"``, ``"replayed"`` or None (send it)."""
    if key is None or remembered != payload_hash:
        return None
    return "replayed" if key.kind == LEDGER_TRACK else "skipped"
