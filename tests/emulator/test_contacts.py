import pytest

ORDERS = ("first_seen_at", "last_seen_at", "last_form_submission_at", "display_name", "email")
CONTACT_KEYS = {
    "uuid",
    "remote_id",
    "email",
    "display_name",
    "first_seen_at",
    "last_seen_at",
    "attributes",
    "segments",
    "account",
}


def _all(emu_api, path, **params):
    items, cursor = [], None
    while True:
        query = {**params, "page_length": 1000}
        if cursor:
            query["page_cursor"] = cursor
        body = emu_api.ok("GET", path, params=query)
        items += body["items"]
        cursor = body["pagination"]["next_page_cursor"]
        if not cursor:
            return items


def test_contact_shape(emu_api):
    body = emu_api.ok("GET", "/contacts", params={"page_length": 50})
    assert body["pagination"]["items_count"] == 300
    assert len(body["items"]) == 50
    with_account = [c for c in body["items"] if c["account"]]
    without = [c for c in body["items"] if c["account"] is None]
    assert with_account
    assert without
    for contact in body["items"]:
        assert set(contact) >= CONTACT_KEYS
        assert contact["first_seen_at"].endswith(".000000Z")
        for segment in contact["segments"]:
            assert set(segment) == {"uuid", "name", "created_at", "updated_at"}
    account = with_account[0]["account"]
    assert set(account) == {
        "uuid",
        "remote_id",
        "domain",
        "display_name",
        "first_seen_at",
        "last_seen_at",
        "attributes",
    }


@pytest.mark.parametrize("order", ORDERS)
def test_order_by_values(emu_api, order):
    items = _all(emu_api, "/contacts", order_by=order)
    assert len(items) == 300
    values = [c[order] for c in items]
    present = [v for v in values if v is not None]
    if order in {"display_name", "email"}:
        assert [v.casefold() for v in present] == sorted(v.casefold() for v in present)
    else:
        assert present == sorted(present, reverse=True)
    # nulls come last
    assert values[: len(present)] == present


def test_order_by_invalid(emu_api):
    reply = emu_api.get("/contacts", params={"order_by": "uuid"})
    assert reply.status_code == 400
    assert set(reply.json()) == {"error"}


def test_filters(emu_api):
    segments = emu_api.ok("GET", "/segments")["items"]
    beta = next(s for s in segments if s["name"] == "Beta Testers")
    members = _all(emu_api, "/contacts", segment_uuid=beta["uuid"])
    assert members
    assert all(beta["uuid"] in {s["uuid"] for s in c["segments"]} for c in members)
    found = emu_api.ok("GET", "/contacts", params={"search": "user-000042"})["items"]
    assert [c["remote_id"] for c in found] == ["user-000042"]
    form = emu_api.ok("GET", "/forms")["items"][0]
    linked = _all(emu_api, "/contacts", form_uuid=form["uuid"])
    responses = _all(emu_api, "/responses", form_uuid=form["uuid"], include="all")
    assert {c["uuid"] for c in linked} == {r["contact"]["uuid"] for r in responses}


def test_get_contact_by_each_identifier(emu_api):
    by_id = emu_api.ok("GET", "/contact", params={"id": "user-000010"})
    assert by_id["remote_id"] == "user-000010"
    assert emu_api.ok("GET", "/contact", params={"uuid": by_id["uuid"]}) == by_id
    assert emu_api.ok("GET", "/contact", params={"email": by_id["email"]})["uuid"] == by_id["uuid"]


def test_get_contact_errors(emu_api):
    reply = emu_api.get("/contact", params={"id": "nobody"})
    assert reply.status_code == 404
    assert reply.json() == {"error": "Contact not found"}
    reply = emu_api.get("/contact", params={"id": "user-000010", "email": "x@example.com"})
    assert reply.status_code == 400
    assert emu_api.get("/contact").status_code == 400


def test_delete_contact_cascades_to_responses(emu_api):
    responses = _all(emu_api, "/responses", include="all")
    victim = responses[0]["contact"]
    before = emu_api.emu.stats()["responses"]
    owned = sum(1 for r in responses if r["contact"]["uuid"] == victim["uuid"])
    body = emu_api.ok("DELETE", "/contact", json={"uuid": victim["uuid"]})
    assert body == {"message": "ok"}
    assert emu_api.emu.stats()["responses"] == before - owned
    assert emu_api.get("/contact", params={"uuid": victim["uuid"]}).status_code == 404
    remaining = _all(emu_api, "/responses", include="all")
    assert all(r["contact"]["uuid"] != victim["uuid"] for r in remaining)
    assert emu_api.delete("/contact", params={"uuid": victim["uuid"]}).status_code == 404


def test_identify_creates_then_updates(emu_api):
    body = emu_api.ok(
        "POST",
        "/identify-user",
        json={"id": "new-1", "email": "new1@example.com", "name": "New One", "plan": "pro"},
    )
    assert body["message"] == "ok"
    again = emu_api.ok("POST", "/identify-user", json={"id": "new-1", "plan": "enterprise"})
    assert again["contact_uuid"] == body["contact_uuid"]
    stored = emu_api.emu.contact("new-1")
    assert stored["identify_count"] == 2
    assert stored["attributes"]["plan"] == "enterprise"
    assert stored["display_name"] == "New One"
    assert stored["account"] is None
    listed = emu_api.ok("GET", "/contacts", params={"page_length": 1})["items"][0]
    assert listed["remote_id"] == "new-1"  # newest first_seen_at first


def test_identify_variants(emu_api):
    emu_api.ok("POST", "/identify-user", data={"userId": "rs-1", "email": "rs@example.com"})
    assert emu_api.emu.contact("rs-1")["email"] == "rs@example.com"
    emu_api.ok(
        "POST",
        "/identify-user",
        json={"id": "mc-1", "attributes": {"role": "Dev", "signed_up_at": "2026-01-02 03:04:05"}},
    )
    stored = emu_api.emu.contact("mc-1")
    assert stored["attributes"]["role"] == "Dev"
    assert stored["attributes"]["signed_up_at"] == "2026-01-02T03:04:05.000000Z"
    emu_api.ok("POST", "/identify-user", json={"id": "num-1", "score": 5, "vip": True})
    attributes = emu_api.emu.contact("num-1")["attributes"]
    assert attributes["score"] == 5
    assert attributes["vip"] is True
    emu_api.ok("POST", "/identify-user", json={"email": "only@example.com"})
    assert emu_api.ok("GET", "/contact", params={"email": "only@example.com"})["remote_id"] is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"plan": "x"},
        {"id": "t", "bio": "x" * 256},
        {"id": "t", "paid_at": "not a date"},
        {"id": "t", "account": {"name": "No Id"}},
        {"id": "t", "account": "acct"},
        {"id": "t", "nested": {"a": 1}},
        {"email": "not-an-email"},
    ],
)
def test_identify_validation(emu_api, body):
    reply = emu_api.post("/identify-user", json=body)
    assert reply.status_code == 400
    assert set(reply.json()) == {"error"}


def test_identify_with_account(emu_api):
    emu_api.ok(
        "POST",
        "/identify-user",
        json={"id": "acc-1", "account": {"id": "A-1", "name": "Awesome", "tier": "gold"}},
    )
    account = emu_api.emu.contact("acc-1")["account"]
    assert account["remote_id"] == "A-1"
    assert account["display_name"] == "Awesome"
    assert account["attributes"]["tier"] == "gold"
    assert emu_api.post("/identify-user", json={"id": "t", "bio": "x" * 255}).status_code == 200


def test_track_event_and_alias(emu_api):
    assert emu_api.ok("POST", "/track-event", json={"id": "user-000003", "event": "Clicked"}) == {
        "message": "ok"
    }
    emu_api.ok("POST", "/track", data={"email": "tracker@example.com", "event": "pageView"})
    events = emu_api.emu.events()
    assert [(e["user_id"], e["event"]) for e in events] == [
        ("user-000003", "Clicked"),
        (None, "pageView"),
    ]
    assert events[1]["email"] == "tracker@example.com"
    assert emu_api.emu.stats()["events"] == 2
    assert emu_api.ok("GET", "/contact", params={"email": "tracker@example.com"})
    assert emu_api.post("/track-event", json={"id": "x"}).status_code == 400
    assert emu_api.post("/track-event", json={"event": "x"}).status_code == 400
    emu_api.emu.configure(track_alias=False)
    reply = emu_api.post("/track", json={"id": "x", "event": "y"})
    assert reply.status_code == 404
