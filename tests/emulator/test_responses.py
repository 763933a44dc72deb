from datetime import datetime, timezone

import pytest

RESPONSE_KEYS = {
    "uuid",
    "first_shown_at",
    "last_shown_at",
    "show_counter",
    "first_data_reception_at",
    "last_data_reception_at",
    "completed_at",
    "received_at",
    "dismissed_at",
    "form",
    "data",
    "tags",
    "contact",
}


def _all(emu_api, **params):
    items, cursor = [], None
    while True:
        query = {**params, "page_length": 1000}
        if cursor:
            query["page_cursor"] = cursor
        body = emu_api.ok("GET", "/responses", params=query)
        items += body["items"]
        cursor = body["pagination"]["next_page_cursor"]
        if not cursor:
            return items


def _ts(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.000000Z").replace(tzinfo=timezone.utc)


def test_shape_and_newest_first(emu_api):
    items = _all(emu_api)
    assert items
    for item in items:
        assert set(item) == RESPONSE_KEYS
        assert item["completed_at"] is not None
        assert set(item["contact"]) == {"uuid", "remote_id", "email", "display_name", "account"}
        assert set(item["form"]) == {"uuid", "name"}
    received = [i["last_data_reception_at"] for i in items]
    assert received == sorted(received, reverse=True)


def test_include_values(emu_api):
    completed = _all(emu_api)
    partials = _all(emu_api, include="partials")
    everything = _all(emu_api, include="all")
    assert len(completed) < len(partials) < len(everything) == 800
    assert {r["uuid"] for r in completed} < {r["uuid"] for r in partials}
    partial_only = [r for r in partials if r["completed_at"] is None]
    assert partial_only
    assert all(r["data"] for r in partial_only)
    views = [r for r in everything if r["last_data_reception_at"] is None]
    assert views
    assert all(r["data"] == {} for r in views)
    assert any(r["dismissed_at"] for r in views)
    shown = [r["last_shown_at"] for r in everything]
    assert shown == sorted(shown, reverse=True)
    assert emu_api.get("/responses", params={"include": "partial"}).status_code == 400


def test_nps_answers_sometimes_strings(emu_api):
    answers = [r["data"]["nps_score"] for r in _all(emu_api) if "nps_score" in r["data"]]
    assert any(isinstance(a, str) for a in answers)
    assert any(isinstance(a, int) for a in answers)
    assert all(0 <= int(a) <= 10 for a in answers)


@pytest.mark.parametrize("fmt", ["{d}", "{d} {t}", "{d}T{t}Z", "{d}T{t}+00:00", "{d}T{t}.000000Z"])
def test_date_range_inclusive_start_exclusive_end(emu_api, fmt):
    items = _all(emu_api)
    pivot = _ts(items[len(items) // 2]["last_data_reception_at"])
    start = pivot.replace(hour=0, minute=0, second=0) if fmt == "{d}" else pivot

    def render(moment):
        return fmt.format(d=moment.strftime("%Y-%m-%d"), t=moment.strftime("%H:%M:%S"))

    after = _all(emu_api, date_range_start=render(start))
    assert after
    assert all(_ts(r["last_data_reception_at"]) >= start for r in after)
    assert any(_ts(r["last_data_reception_at"]) == pivot for r in after)  # inclusive
    before = _all(emu_api, date_range_end=render(start))
    assert all(_ts(r["last_data_reception_at"]) < start for r in before)  # exclusive
    assert len(after) + len(before) == len(items)


def test_date_range_epoch_and_errors(emu_api):
    everything = _all(emu_api, date_range_start="1970-01-01T00:00:00Z")
    assert len(everything) == len(_all(emu_api))
    assert _all(emu_api, date_range_start="2026-01-01 10:00:00", date_range_end="2026-01-02") == []
    assert emu_api.get("/responses", params={"date_range_start": "yesterday"}).status_code == 400


def test_include_all_filters_on_last_shown(emu_api):
    everything = _all(emu_api, include="all")
    pivot = everything[100]["last_shown_at"]
    start = pivot.replace("T", " ").replace(".000000Z", "")
    newer = _all(emu_api, include="all", date_range_start=start)
    assert all(r["last_shown_at"] >= pivot for r in newer)
    assert len(newer) >= 101


def test_filters(emu_api):
    items = _all(emu_api, include="partials")
    forms = sorted({r["form"]["uuid"] for r in items})
    one = _all(emu_api, include="partials", form_uuid=forms[0])
    assert one
    assert all(r["form"]["uuid"] == forms[0] for r in one)
    two = _all(emu_api, include="partials", **{"form_uuids[]": forms[:2]})
    assert {r["form"]["uuid"] for r in two} == set(forms[:2])
    tagged = next(r for r in items if r["tags"])
    tag = tagged["tags"][0]
    by_tag = _all(emu_api, include="partials", tag_uuid=tag["uuid"])
    assert tagged["uuid"] in {r["uuid"] for r in by_tag}
    assert all(tag["uuid"] in {t["uuid"] for t in r["tags"]} for r in by_tag)
    remote_id = items[0]["contact"]["remote_id"]
    searched = _all(emu_api, include="partials", search=remote_id)
    assert all(r["contact"]["remote_id"] == remote_id for r in searched)
    nines = _all(emu_api, **{"response_data[nps_score]": "9"})
    assert nines
    assert all(str(r["data"]["nps_score"]) == "9" for r in nines)


def test_segment_contact_account_filters(emu_api):
    segments = emu_api.ok("GET", "/segments")["items"]
    beta = next(s for s in segments if s["name"] == "Beta Testers")
    in_beta = _all(emu_api, segment_uuid=beta["uuid"], with_attributes=1)
    assert in_beta
    plural = _all(emu_api, **{"segment_uuids[]": [beta["uuid"]]})
    assert {r["uuid"] for r in plural} == {r["uuid"] for r in in_beta}
    assert all("attributes" in r["contact"] for r in in_beta)
    plan = in_beta[0]["contact"]["attributes"]["plan"]
    by_plan = _all(emu_api, **{"contact_data[plan]": plan}, with_attributes=1)
    assert all(r["contact"]["attributes"]["plan"] == plan for r in by_plan)
    by_account = _all(emu_api, **{"account_data[industry]": "Manager"})
    assert by_account
    assert all(r["contact"]["account"] for r in by_account)


def test_plain_timestamp_switch(emu_api):
    emu_api.emu.configure(timestamp_format="plain")
    item = emu_api.ok("GET", "/responses", params={"page_length": 1})["items"][0]
    datetime.strptime(item["completed_at"], "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007
    contact = emu_api.ok("GET", "/contacts", params={"page_length": 1})["items"][0]
    assert contact["first_seen_at"].endswith(".000000Z")


def _form(emu_api):
    return emu_api.ok("GET", "/forms", params={"list": "published"})["items"][0]["uuid"]


def test_store_response_flat_and_wrapped(emu_api):
    form = _form(emu_api)
    body = emu_api.ok(
        "POST",
        "/responses",
        json={"form_uuid": form, "id": "resp-1", "nps_score": 9, "date": "2026-11-01T10:00:00Z"},
    )
    assert body["message"] == "ok"
    newest = emu_api.ok("GET", "/responses", params={"page_length": 1})["items"][0]
    assert newest["uuid"] == body["uuid"]
    assert newest["data"] == {"nps_score": 9}
    assert newest["completed_at"] == "2026-11-01T10:00:00.000000Z"
    assert newest["contact"]["remote_id"] == "resp-1"
    wrapped = emu_api.ok(
        "POST",
        "/responses",
        data={"form_uuid": form, "email": "wrap@example.com", "response_data[nps_score]": "3"},
    )
    assert wrapped["uuid"] != body["uuid"]
    mc = emu_api.ok(
        "POST", "/responses", json={"form_uuid": form, "id": "mc-2", "responseData": {"x": "y"}}
    )
    assert mc["uuid"]


def test_store_response_duplicates(emu_api):
    form = _form(emu_api)
    payload = {"form_uuid": form, "id": "dup-1", "nps_score": 7}
    first = emu_api.ok("POST", "/responses", json=payload)
    second = emu_api.ok("POST", "/responses", json=payload)
    assert second["uuid"] == first["uuid"]
    third = emu_api.ok("POST", "/responses", json={**payload, "prevent_duplicates": False})
    assert third["uuid"] != first["uuid"]


def test_store_response_tags_and_account(emu_api):
    form = _form(emu_api)
    body = emu_api.ok(
        "POST",
        "/responses",
        json={
            "form_uuid": form,
            "id": "tagged-1",
            "q": "a",
            "tags": ["vip", "beta"],
            "account": {"id": "ACC-9", "name": "Nine"},
        },
    )
    newest = emu_api.ok("GET", "/responses", params={"page_length": 1})["items"][0]
    assert newest["uuid"] == body["uuid"]
    assert [t["name"] for t in newest["tags"]] == ["vip", "beta"]
    assert newest["contact"]["account"]["remote_id"] == "ACC-9"


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"id": "x", "q": 1}, 400),
        ({"form_uuid": "00000000-0000-0000-0000-000000000000", "id": "x", "q": 1}, 404),
        ({"form_uuid": "FORM", "q": 1}, 400),
        ({"form_uuid": "FORM", "id": "x"}, 400),
        ({"form_uuid": "FORM", "id": "x", "q": 1, "tags": [str(i) for i in range(21)]}, 400),
        ({"form_uuid": "FORM", "id": "x", "q": 1, "date": "soon"}, 400),
        ({"form_uuid": "FORM", "uuid": "no-such-contact", "q": 1}, 404),
        ({"form_uuid": "FORM", "id": "x", "q": {"nested": 1}}, 400),
    ],
)
def test_store_response_validation(emu_api, payload, status):
    form = _form(emu_api)
    if payload.get("form_uuid") == "FORM":
        payload = {**payload, "form_uuid": form}
    reply = emu_api.post("/responses", json=payload)
    assert reply.status_code == status
    assert set(reply.json()) == {"error"}


def test_store_response_by_contact_uuid(emu_api):
    contact = emu_api.ok("GET", "/contact", params={"id": "user-000005"})
    form = _form(emu_api)
    body = emu_api.ok(
        "POST", "/responses", json={"form_uuid": form, "uuid": contact["uuid"], "q": 2}
    )
    newest = emu_api.ok("GET", "/responses", params={"page_length": 1})["items"][0]
    assert newest["uuid"] == body["uuid"]
    assert newest["contact"]["uuid"] == contact["uuid"]


def test_tag_response(emu_api):
    target = emu_api.ok("GET", "/responses", params={"page_length": 1})["items"][0]
    assert emu_api.ok("POST", "/responses/tags", json={"uuid": target["uuid"], "tags": ["a", "b"]})
    emu_api.ok("POST", "/responses/tags", data={"uuid": target["uuid"], "tags[]": ["b", "c"]})
    emu_api.ok("POST", "/responses/tags", json={"uuid": target["uuid"], "tags[]": ["c"]})
    again = emu_api.ok("GET", "/responses", params={"page_length": 1})["items"][0]
    names = [t["name"] for t in again["tags"]]
    assert names[-3:] == ["a", "b", "c"]
    assert len(names) == len(set(names))
    too_many = {"uuid": target["uuid"], "tags": [f"t{i}" for i in range(21)]}
    assert emu_api.post("/responses/tags", json=too_many).status_code == 400
    assert emu_api.post("/responses/tags", json={"uuid": target["uuid"]}).status_code == 400
    missing = emu_api.post("/responses/tags", json={"uuid": "nope", "tags": ["a"]})
    assert missing.status_code == 404
