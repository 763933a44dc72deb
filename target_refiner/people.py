"""One person, one identity: rows naming a contact by user id, by email or by both meet here.

Refiner knows a contact by its user id and by its email. A row may carry either or both, so
``id:42`` and ``email:ann@x.io`` can be the same person. Everything kept per person (the
identify hash, segment membership, the "deleted" mark, the order of that person's calls and
their pacing) is kept under one *person key*: the first identifier this ledger saw for them
(``id:…`` when a row had both), which is exactly the key earlier versions used.

- A row with one known identifier and one new one links the new one to that person.
- A row linking two people known apart (``id:42`` seen alone, ``email:ann@x.io`` seen alone)
  merges them: the second's ledger entries are dropped (so the next identify is sent again,
  never skipped on a stale hash) and its identifiers point at the first.

The map lives in the ledger database (table ``person``) and in memory for the run; only the
main thread resolves, so no lock is needed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from target_refiner.ledger import Ledger


@dataclass(frozen=True)
class Resolution:
    """Who a row's identifiers name, and what this row taught us."""

    person: str
    #: (identifier, person) pairs to persist with the row's acknowledgement.
    links: tuple[tuple[str, str], ...] = ()
    #: Person keys merged into ``person`` (their ledger entries must go first).
    merged: tuple[str, ...] = field(default=())


class People:
    """Identifier -> person key, loaded once from the ledger and kept up to date."""

    def __init__(self, ledger: Ledger) -> None:
        """Load every known link."""
        self._person: dict[str, str] = ledger.load_people()
        self._plain: dict[str, Resolution] = {}

    def resolve(self, identifiers: Sequence[str]) -> Resolution:
        """The person ``identifiers`` (id first, then email) belong to."""
        first = self._person.get(identifiers[0])
        if first is not None and all(self._person.get(i) == first for i in identifiers[1:]):
            # the re-sync case: nothing new to learn about this person
            plain = self._plain.get(first)
            if plain is None:
                plain = self._plain[first] = Resolution(first)
            return plain
        known = [self._person[i] for i in identifiers if i in self._person]
        person = known[0] if known else identifiers[0]
        merged = tuple(dict.fromkeys(p for p in known if p != person))
        if merged:
            for identifier, owner in list(self._person.items()):
                if owner in merged:
                    self._person[identifier] = person
        links = tuple((i, person) for i in identifiers if self._person.get(i) != person)
        for identifier, owner in links:
            self._person[identifier] = owner
        return Resolution(person, links, merged)
