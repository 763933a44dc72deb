"""Which event store a ``--store`` or ``webhook_store`` value names: a SQLite file or PostgreSQL.

A ``postgresql://`` URL opens ``pg_store`` (the receiver and the tap may then run on different
machines); anything else is a path to the SQLite file of ``store.py``. Both answer alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from refiner_stores.location import is_postgres
from refiner_webhooks import pg_store, store

if TYPE_CHECKING:
    from collections.abc import Iterator

#: What the receiver writes through (``writer.py``): both stores have the same methods.
AnyEventStore = store.EventStore | pg_store.PostgresEventStore


def open_event_store(value: str, *, setting: str) -> AnyEventStore:
    """The writing side of the store ``value`` names (created if need be)."""
    if is_postgres(value):
        return pg_store.PostgresEventStore(value, setting=setting)
    return store.EventStore(value)


def read_store_id(value: str, *, setting: str) -> str | None:
    """The store's identity, or None for a SQLite store from a version that had none."""
    if is_postgres(value):
        return pg_store.read_store_id(value, setting=setting)
    return store.read_store_id(value)


def read_events(value: str, *, after_seq: int, setting: str) -> Iterator[dict[str, Any]]:
    """Stored events with ``seq > after_seq`` in ``seq`` order, JSON columns decoded."""
    if is_postgres(value):
        return pg_store.read_events(value, after_seq=after_seq, setting=setting)
    return store.read_events(value, after_seq=after_seq)
