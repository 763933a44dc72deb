"""The ledger is never read whole: people and entries are looked up a batch of rows at a time,
and the run keeps a bounded cache of them (issue 18)."""

from __future__ import annotations

import re
import threading

from target_refiner import people as people_module
from target_refiner import sender as sender_module
from target_refiner.ledger.keys import LedgerWrite, identify_key
from target_refiner.ledger.sqlite import Ledger
from target_refiner.people import People
from tests.target.target_helpers import run_target, schema

ROWS = 3000  # more than one lookup batch
FAST = {
    "max_concurrency": 32,
    "max_requests_per_minute": 1_000_000,
    "max_requests_per_user_per_minute": 1_000_000,
}


def users(rows: int) -> list[dict]:
    messages = [schema("users", {"id": {"type": "string"}, "email": {"type": "string"}}, ["id"])]
    for i in range(rows):
        row = {"id": f"s{i}", "email": f"s{i}@example.com"}
        messages.append({"type": "RECORD", "stream": "users", "record": row})
    return [*messages, {"type": "STATE", "value": {"users": rows}}]


def traced_statements(monkeypatch) -> list[str]:
    """Every SQL statement any ledger connection runs from now on."""
    statements: list[str] = []
    lock = threading.Lock()
    original = Ledger._conn  # noqa: SLF001 - every connection the ledger opens

    def conn(self):
        connection = original(self)
        if not getattr(connection, "traced", False):

            def record(statement: str) -> None:
                with lock:
                    statements.append(" ".join(statement.split()))

            connection.set_trace_callback(record)
        return connection

    monkeypatch.setattr(Ledger, "_conn", conn)
    return statements


def test_a_resync_reads_people_and_entries_per_batch_never_the_whole_ledger(
    emu, config, monkeypatch
):
    cfg = {**config, **FAST}
    run_target(cfg, users(ROWS))
    sent = len(emu.calls(path="/v1/identify-user"))
    assert sent == ROWS

    statements = traced_statements(monkeypatch)
    again = run_target(cfg, users(ROWS))
    assert len(emu.calls(path="/v1/identify-user")) == sent  # all unchanged: nothing sent
    assert again.states[-1] == {"users": ROWS}

    selects = [s for s in statements if s.upper().startswith("SELECT")]
    whole = [s for s in selects if " WHERE " not in s.upper() and "COUNT(" not in s.upper()]
    assert whole == []  # no table is read whole
    assert any(s.startswith("SELECT identifier, person FROM person WHERE") for s in selects)
    # a few queries per batch of rows (one per 512 keys), not one (or two) per row
    assert len(selects) <= ROWS / 50, len(selects)


def test_people_resolve_through_a_cache_smaller_than_the_ledger(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    links = tuple((i, f"id:p{n}") for n in range(200) for i in (f"id:p{n}", f"email:p{n}@x.io"))
    ledger.commit([LedgerWrite(identify_key("id:p0"), "h", "id:p0", links)])
    people = People(ledger, cache_size=16)

    for n in range(200):
        found = people.resolve((f"id:p{n}", f"email:p{n}@x.io"))
        assert (found.person, found.links, found.merged) == (f"id:p{n}", (), ())
        found = people.resolve((f"email:p{n}@x.io",))  # by email alone: the same person
        assert found.person == f"id:p{n}"
    assert len(people) <= 16

    # a new link stays known while uncommitted, however much is looked up meanwhile
    found = people.resolve(("id:p3", "email:new@x.io"))
    assert found.links == (("email:new@x.io", "id:p3"),)
    people.prefetch(f"id:p{n}" for n in range(100, 200))
    assert people.resolve(("email:new@x.io",)).person == "id:p3"
    ledger.close()


def test_the_cache_bound_is_what_the_target_uses():
    assert people_module.CACHE_SIZE >= 4 * sender_module.LOOKUP_BATCH


def test_lookups_of_any_size_reuse_a_few_prepared_statements(tmp_path):
    """Each number of keys in ``IN`` is a statement Python's sqlite3 keeps prepared (128 per
    connection, ~75 KB each at 500 keys): odd-sized chunks made the process grow with the run."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    links = tuple((f"id:p{n}", f"id:p{n}") for n in range(0, 1300, 3))
    ledger.commit([LedgerWrite(identify_key("id:p0"), "h", "id:p0", links)])
    shapes: set[str] = set()
    ledger._conn().set_trace_callback(  # noqa: SLF001 - this thread's connection
        lambda statement: shapes.add(re.sub(r"'[^']*'", "?", statement))
    )

    for size in range(1, 1300, 7):  # every size a batch's last chunk may have, and more
        wanted = [f"id:p{n}" for n in range(size)]
        found = ledger.lookup_people(wanted)
        assert found == {i: i for i in wanted if int(i[4:]) % 3 == 0}
        keys = [identify_key(i) for i in wanted]
        assert ledger.lookup_entries(keys) == {identify_key("id:p0"): "h"}

    people = {s for s in shapes if "FROM person" in s}
    entries = {s for s in shapes if "FROM ledger" in s}
    assert 0 < len(people) <= 10, len(people)  # powers of two up to LOOKUP_CHUNK
    assert 0 < len(entries) <= 10, len(entries)
    ledger.close()


def test_each_connection_caches_a_bounded_number_of_pages(tmp_path):
    """Every thread that queries has a connection; SQLite's default 2 MB page cache each grew
    with the ledger (6 MB at 40k people)."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    caches = []

    def read() -> None:
        ledger.lookup_people(["id:p0"])
        caches.append(ledger._conn().execute("PRAGMA cache_size").fetchone()[0])  # noqa: SLF001

    threads = [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read()
    assert caches == [-512] * 4  # KiB
    ledger.close()
