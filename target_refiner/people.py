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

The map lives in the ledger database (table ``person``); the run keeps only a bounded cache of
it (``CACHE_SIZE`` identifiers, filled a batch of rows at a time by :meth:`People.prefetch`: one
query per few hundred identifiers) and the links it learned that are not committed yet (bounded
by the rows in flight). So memory follows the batch, not the number of people in the ledger.
Resolving happens on one thread at a time (the sender's batch lock); only :meth:`People.saved`
is called from another thread (the committer).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from target_refiner.ledger.keys import LedgerStore


@dataclass(frozen=True)
class Resolution:
    """Who a row's identifiers name, and what this row taught us."""

    person: str
    #: (identifier, person) pairs to persist with the row's acknowledgement.
    links: tuple[tuple[str, str], ...] = ()
    #: Person keys merged into ``person`` (their ledger entries must go first).
    merged: tuple[str, ...] = field(default=())


#: Identifiers whose link (or known absence) is cached; several batches' worth.
CACHE_SIZE = 20_000
_UNKNOWN = object()


class People:
    """Identifier -> person key, looked up from the ledger a batch at a time."""

    def __init__(self, ledger: LedgerStore, cache_size: int = CACHE_SIZE) -> None:
        """Nothing is read until a batch asks."""
        self._ledger = ledger
        self._cache_size = cache_size
        #: identifier -> person key, or None when the ledger has no link for it (oldest first).
        self._known: collections.OrderedDict[str, str | None] = collections.OrderedDict()
        #: Links learned this run and not committed yet: they win over ``_known``.
        self._unsaved: dict[str, str] = {}
        self._saved: collections.deque[tuple[str, str]] = collections.deque()

    def prefetch(self, identifiers: Iterable[str]) -> None:
        """Cache those of ``identifiers`` not cached yet, in one lookup.

        The cache drops its oldest entries first; one needed again after that is simply
        looked up again (``resolve`` does so for whatever is missing).
        """
        self._take_saved()
        known, unsaved = self._known, self._unsaved
        missing = [i for i in identifiers if i not in known and i not in unsaved]
        if missing:
            found = self._ledger.lookup_people(missing)
            for identifier in missing:
                known[identifier] = found.get(identifier)
        while len(known) > self._cache_size:
            known.popitem(last=False)

    def owner(self, identifier: str) -> str | None:
        """The person key ``identifier`` is linked to, if any (it must have been prefetched)."""
        owner = self._unsaved.get(identifier, _UNKNOWN)
        return self._known.get(identifier) if owner is _UNKNOWN else cast("str", owner)

    def __len__(self) -> int:
        """How many identifiers are held in memory (cached, or learned and not committed)."""
        return len(self._known) + len(self._unsaved)

    def saved(self, links: Iterable[tuple[str, str]]) -> None:
        """These links are committed to the ledger (any thread): they may leave memory."""
        self._saved.extend(links)

    def _take_saved(self) -> None:
        while self._saved:
            identifier, person = self._saved.popleft()
            if self._unsaved.get(identifier) == person:
                del self._unsaved[identifier]
                self._known[identifier] = person

    def resolve(self, identifiers: Sequence[str]) -> Resolution:
        """The person ``identifiers`` (id first, then email) belong to."""
        owners = self._owners(identifiers)
        first = owners[0]
        if first is not None and owners.count(first) == len(owners):
            return Resolution(first)  # the re-sync case: nothing new to learn about this person
        known = [p for p in owners if p is not None]
        person = known[0] if known else identifiers[0]
        merged = tuple(dict.fromkeys(p for p in known if p != person))
        if merged:
            # Cached and unsaved links follow; the ledger's own are re-pointed by merge_people.
            for cached in (self._known, self._unsaved):
                for identifier, owner in list(cached.items()):
                    if owner in merged:
                        cached[identifier] = person
        links = tuple((i, person) for i in identifiers if self.owner(i) != person)
        self._unsaved.update(links)
        return Resolution(person, links, merged)

    def _owners(self, identifiers: Sequence[str]) -> list[str | None]:
        """Each identifier's person key (None: not linked), looking up what is not cached."""
        unsaved, known = self._unsaved, self._known
        owners: list[str | None] = []
        for identifier in identifiers:
            owner = unsaved.get(identifier, _UNKNOWN)
            if owner is _UNKNOWN:
                owner = known.get(identifier, _UNKNOWN)
                if owner is _UNKNOWN:
                    self.prefetch(identifiers)
                    return [self.owner(i) for i in identifiers]
            owners.append(cast("str | None", owner))
        return owners
