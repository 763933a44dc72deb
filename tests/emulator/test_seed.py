from refiner_emulator import timefmt
from refiner_emulator.seed import (
    DAY,
    SPREAD_DAYS,
    build_store,
    recent_reference_time,
    reference_time,
)
from refiner_emulator.testing import EmulatorProcess


def _fingerprint(store):
    contacts = [
        (c.uuid, c.remote_id, c.email, c.first_seen_at, tuple(sorted(c.segments)))
        for c in store.contacts.values()
    ]
    responses = [
        (r.uuid, r.form.uuid, r.contact.uuid, r.last_shown_at, repr(r.data))
        for r in store.responses.values()
    ]
    return contacts, responses, list(store.forms), list(store.segments), store.project_uuid


def test_same_seed_same_data():
    assert _fingerprint(build_store(3)) == _fingerprint(build_store(3))
    assert _fingerprint(build_store(3)) != _fingerprint(build_store(4))


def test_dates_relative_to_reference():
    store = build_store(5, contacts=500, responses=500)
    ref = reference_time(5)
    assert store.reference_time == ref
    firsts = [c.first_seen_at for c in store.contacts.values()]
    assert ref - SPREAD_DAYS * DAY <= min(firsts) < max(firsts) <= ref
    assert max(firsts) - min(firsts) > 60 * DAY
    shown = [r.last_shown_at for r in store.responses.values()]
    assert max(shown) - min(shown) > 60 * DAY


def test_recent_reference_shifts_the_same_data_to_the_last_days():
    now = timefmt.now()
    ref = recent_reference_time(now)
    assert now - 2 * 3600 < ref <= now - 3600
    shifted = build_store(3, reference=ref)
    fixed = build_store(3)
    shift = ref - reference_time(3)
    assert shifted.reference_time == ref
    pairs = zip(fixed.responses.values(), shifted.responses.values(), strict=True)
    assert all(b.last_shown_at - a.last_shown_at == shift for a, b in pairs)
    received = [r.last_data_reception_at for r in shifted.responses.values()]
    days = {t // DAY for t in received if t is not None}
    assert max(t for t in received if t is not None) < now  # nothing in the future
    assert {now // DAY - n for n in range(1, 8)} <= days  # every one of the last 7 days


def test_recent_option_of_the_cli():
    with EmulatorProcess("--recent", "--responses", "200") as emu:
        reference = timefmt.parse_datetime(emu.stats()["reference_time"])
    assert recent_reference_time(timefmt.now()) - 3600 <= reference <= timefmt.now() - 3600


def test_sizes_options():
    store = build_store(1, contacts=17, responses=33, forms=9, segments=7)
    assert (len(store.contacts), len(store.responses), len(store.forms), len(store.segments)) == (
        17,
        33,
        9,
        7,
    )
    elements = [e for f in store.forms.values() for e in f.elements]
    assert {"nps", "csat", "rating", "multiple_choice", "text"} <= {e["type"] for e in elements}
    for response in store.responses.values():
        assert set(response.data) <= response.form.question_ids()


def test_hundred_thousand_contacts():
    """Correctness only; the seeding time is measured by the benchmark, not asserted here."""
    store = build_store(1, contacts=100_000, responses=500)
    assert len(store.contacts) == 100_000
    assert len(store.contacts_by_uuid) == 100_000
    keys = store.contact_keys("first_seen_at")
    assert len(keys) == 100_000
    assert keys == sorted(keys)
    first = store.contacts[keys[0][-1]]
    assert timefmt.iso(first.first_seen_at).endswith(".000000Z")


def test_subprocess_determinism():
    args = ("--seed", "11", "--contacts", "20", "--responses", "30")
    bodies = []
    for _ in range(2):
        with EmulatorProcess(*args) as emu:
            reply = emu.api.get("/responses", params={"include": "all"})
            body = reply.json()
            body["pagination"].pop("next_page_cursor")
            bodies.append(body)
    assert bodies[0] == bodies[1]
