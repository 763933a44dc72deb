from datetime import datetime, timedelta, timezone

import pytest


def _segments(emu_api):
    return emu_api.ok("GET", "/segments")["items"]


def test_segments_sorted_by_name(emu_api):
    items = _segments(emu_api)
    assert [s["name"] for s in items] == sorted(s["name"] for s in items)
    assert all(set(s) == {"uuid", "name", "is_manual"} for s in items)
    assert {s["is_manual"] for s in items} == {True, False}


def test_sync_segment_add_and_remove(emu_api):
    manual = next(s for s in _segments(emu_api) if s["is_manual"])
    body = emu_api.ok(
        "POST", "/sync-segment", json={"segment_uuid": manual["uuid"], "id": "seg-new"}
    )
    assert body["message"] == "ok"
    assert body["segment_uuid"] == manual["uuid"]
    contact = emu_api.ok("GET", "/contact", params={"id": "seg-new"})
    assert contact["uuid"] == body["contact_uuid"]
    entry = next(s for s in contact["segments"] if s["uuid"] == manual["uuid"])
    assert entry["created_at"] == entry["updated_at"]
    members = emu_api.ok(
        "GET", "/contacts", params={"segment_uuid": manual["uuid"], "search": "seg-new"}
    )
    assert [c["remote_id"] for c in members["items"]] == ["seg-new"]
    emu_api.ok("DELETE", "/sync-segment", params={"segment_uuid": manual["uuid"], "id": "seg-new"})
    contact = emu_api.ok("GET", "/contact", params={"id": "seg-new"})
    assert manual["uuid"] not in {s["uuid"] for s in contact["segments"]}
    emu_api.ok("DELETE", "/sync-segment", json={"segment_uuid": manual["uuid"], "id": "seg-new"})


def test_sync_segment_errors(emu_api):
    segments = _segments(emu_api)
    automatic = next(s for s in segments if not s["is_manual"])
    manual = next(s for s in segments if s["is_manual"])
    reply = emu_api.post("/sync-segment", json={"segment_uuid": automatic["uuid"], "id": "x"})
    assert reply.status_code == 400
    assert set(reply.json()) == {"error"}
    assert (
        emu_api.post("/sync-segment", json={"segment_uuid": "nope", "id": "x"}).status_code == 404
    )
    assert emu_api.post("/sync-segment", json={"segment_uuid": manual["uuid"]}).status_code == 400
    gone = emu_api.delete("/sync-segment", params={"segment_uuid": manual["uuid"], "id": "ghost"})
    assert gone.status_code == 404
    assert gone.json() == {"error": "Contact not found"}


@pytest.mark.parametrize(
    ("which", "expected"),
    [("all", 5), ("published", 4), ("drafts", 1), ("archived", 1), ("all_with_archived", 6)],
)
def test_form_lists(emu_api, which, expected):
    items = emu_api.ok("GET", "/forms", params={"list": which})["items"]
    assert len(items) == expected
    assert [f["name"] for f in items] == sorted(f["name"] for f in items)
    assert all(set(f) == {"uuid", "name"} for f in items)


def test_form_list_invalid(emu_api):
    assert emu_api.get("/forms", params={"list": "everything"}).status_code == 400


def test_form_info_and_config(emu_api):
    items = emu_api.ok(
        "GET", "/forms", params={"include_info": 1, "include_config": 1, "list": "published"}
    )["items"]
    for form in items:
        assert form["responses_count"] <= form["views_count"]
        assert form["published_at"]
        assert form["archived_at"] is None
        assert {"channels", "created_at", "updated_at", "folder", "page_url"} <= set(form)
        elements = form["config"]["form_elements"]
        assert elements
        for element in elements:
            assert set(element) >= {"id", "type", "text", "required", "options"}
    types = {e["type"] for f in items for e in f["config"]["form_elements"]}
    assert {"nps", "text", "multiple_choice"} <= types
    total = sum(f["responses_count"] for f in items)
    completed = emu_api.ok("GET", "/responses", params={"page_length": 1})["pagination"]
    assert total <= completed["items_count"]


def test_publish_duplicate_archive_history(emu_api):
    draft = emu_api.ok("GET", "/forms", params={"list": "drafts"})["items"][0]
    assert emu_api.ok("POST", "/forms/publish", json={"form_uuid": draft["uuid"]})["message"]
    published = emu_api.ok("GET", "/forms", params={"list": "published"})["items"]
    assert draft["uuid"] in {f["uuid"] for f in published}
    emu_api.ok("POST", "/forms/publish", data={"form_uuid": draft["uuid"], "published": "0"})
    drafts = emu_api.ok("GET", "/forms", params={"list": "drafts"})["items"]
    assert draft["uuid"] in {f["uuid"] for f in drafts}
    copy = emu_api.ok("POST", "/forms/duplicate", json={"form_uuid": draft["uuid"], "name": "Copy"})
    assert copy["source_form_uuid"] == draft["uuid"]
    drafts = emu_api.ok("GET", "/forms", params={"list": "drafts"})["items"]
    assert copy["new_form_uuid"] in {f["uuid"] for f in drafts}
    emu_api.ok("DELETE", "/forms", params={"form_uuid": copy["new_form_uuid"]})
    archived = emu_api.ok("GET", "/forms", params={"list": "archived"})["items"]
    assert copy["new_form_uuid"] in {f["uuid"] for f in archived}
    history = emu_api.ok("GET", "/forms/history", params={"form_uuid": draft["uuid"]})["items"]
    assert [h["action"] for h in history[:2]] == ["unpublish", "publish"]
    assert set(history[0]) == {"uuid", "action", "snapshot", "created_at"}
    assert history[0]["snapshot"]["form_elements"]
    copy_history = emu_api.ok("GET", "/forms/history", params={"form_uuid": copy["new_form_uuid"]})[
        "items"
    ]
    assert [h["action"] for h in copy_history] == ["archive", "create"]


def test_form_errors(emu_api):
    assert emu_api.post("/forms/publish", json={}).status_code == 400
    assert emu_api.post("/forms/publish", json={"form_uuid": "nope"}).status_code == 404
    form = emu_api.ok("GET", "/forms")["items"][0]["uuid"]
    assert emu_api.post("/forms/duplicate", json={"form_uuid": form}).status_code == 400
    assert emu_api.get("/forms/history").status_code == 400
    archived = emu_api.ok("GET", "/forms", params={"list": "archived"})["items"][0]["uuid"]
    assert emu_api.post("/forms/publish", json={"form_uuid": archived}).status_code == 400


def _window(emu_api):
    items = emu_api.ok("GET", "/responses", params={"page_length": 1000, "include": "all"})["items"]
    newest = datetime.strptime(items[0]["last_shown_at"], "%Y-%m-%dT%H:%M:%S.000000Z")  # noqa: DTZ007
    return {
        "date_range_start": "2020-01-01",
        "date_range_end": (newest + timedelta(days=1)).strftime("%Y-%m-%d"),
    }


def test_reporting_types(emu_api):
    window = _window(emu_api)
    nps = emu_api.ok("GET", "/reporting", params={"type": "nps", **window})
    data = nps["data"]
    assert nps["count"] == data["detractors"] + data["passives"] + data["promoters"] > 0
    expected = round(100 * (data["promoters"] - data["detractors"]) / nps["count"])
    assert nps["nps"] == expected
    assert nps["date_range_start"] == "2020-01-01 00:00:00"
    csat = emu_api.ok("GET", "/reporting", params={"type": "csat", **window})
    assert 0 <= csat["csat"] <= 100
    assert sum(csat["data"].values()) == csat["count"]
    ratings = emu_api.ok("GET", "/reporting", params={"type": "ratings", **window})
    assert ratings["average"] == round(ratings["sum"] / ratings["count"], 2)
    distribution = emu_api.ok("GET", "/reporting", params={"type": "distribution", **window})
    assert "Pricing" in distribution["data"]
    assert distribution["datapoints"] == sum(distribution["data"].values())
    count = emu_api.ok("GET", "/reporting", params={"type": "count", **window})
    assert count["views"] == 800
    completed = emu_api.ok("GET", "/responses", params={"page_length": 1})["pagination"]
    assert count["responses"] == completed["items_count"]


def test_reporting_filters_and_default_range(emu_api):
    window = _window(emu_api)
    forms = emu_api.ok("GET", "/forms", params={"list": "all_with_archived"})["items"]
    feature_form = next(f for f in forms if f["name"] == "Feature Feedback")["uuid"]
    only = emu_api.ok(
        "GET", "/reporting", params={"type": "ratings", "form_uuids[]": feature_form, **window}
    )
    total = emu_api.ok("GET", "/reporting", params={"type": "ratings", **window})
    assert 0 < only["count"] < total["count"]
    by_question = emu_api.ok(
        "GET",
        "/reporting",
        params={"type": "distribution", "question_identifiers[]": ["job_role"], **window},
    )
    assert set(by_question["data"]) <= {"Engineering", "Product", "Marketing", "Sales"}
    default = emu_api.ok("GET", "/reporting", params={"type": "count"})
    today = datetime.now(timezone.utc).date()
    assert default["date_range_end"] == f"{today + timedelta(days=1)} 00:00:00"
    assert default["date_range_start"] == f"{today - timedelta(days=6)} 00:00:00"
    assert default["responses"] == 0  # seeded data is older than a week
    assert emu_api.get("/reporting").status_code == 400
    assert emu_api.get("/reporting", params={"type": "median"}).status_code == 400


def test_reporting_sees_new_responses(emu_api):
    form = emu_api.ok("GET", "/forms", params={"list": "published"})["items"]
    nps_form = next(f for f in form if f["name"] == "Net Promoter Score")["uuid"]
    emu_api.ok("POST", "/responses", json={"form_uuid": nps_form, "id": "r1", "nps_score": 10})
    emu_api.ok("POST", "/responses", json={"form_uuid": nps_form, "id": "r2", "nps_score": "2"})
    nps = emu_api.ok("GET", "/reporting", params={"type": "nps"})
    assert nps["data"] == {"detractors": 1, "passives": 0, "promoters": 1}
    assert nps["nps"] == 0


def test_account_usage(emu_api):
    body = emu_api.ok("GET", "/account")
    subscription = body["subscription"]
    assert subscription["mtu_count"] == 300
    assert set(subscription) == {
        "plan",
        "mtu_count",
        "mtu_limit",
        "mpv_count",
        "mpv_limit",
        "msr_count",
        "msr_limit",
        "mte_count",
    }
    emu_api.ok("POST", "/track-event", json={"id": "user-000001", "event": "Login"})
    after = emu_api.ok("GET", "/account")
    assert after["subscription"]["mte_count"] == 1
    assert after["environments"][0]["mte"] == 1
    assert set(after["environments"][0]) == {"uuid", "name", "mtu", "mte", "mpv", "msr"}


def test_unknown_route_and_method(emu_api):
    assert emu_api.get("/nothing-here").status_code == 404
    assert emu_api.request("PUT", "/contacts").status_code == 405
