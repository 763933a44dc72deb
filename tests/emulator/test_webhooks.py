import json

import pytest
from werkzeug import Response

SECRET = "hook-token"  # noqa: S105 - a throwaway value for the test


class Receiver:
    """Records the POSTs a pytest-httpserver server gets; the first ``fail_first`` answer 500."""

    def __init__(self, server, fail_first=0):
        self.received = []
        self.fail_first = fail_first
        self.server = server
        self.url = server.url_for("/hook")
        server.expect_request("/hook", method="POST").respond_with_handler(self.answer)

    def answer(self, request):
        self.received.append(
            {
                "headers": dict(request.headers),
                "body": json.loads(request.data),
                "path": request.path,
            }
        )
        status = 500 if self.fail_first > 0 else 200
        self.fail_first -= 1
        return Response(status=status)

    def close(self):
        self.server.clear()


@pytest.fixture
def receiver(httpserver):
    r = Receiver(httpserver)
    yield r
    r.close()


def _hooked(emu_api, receiver, **extra):
    emu_api.emu.configure(webhook_urls=[receiver.url], webhook_secret=SECRET, **extra)


def test_completed_survey_webhook(emu_api, receiver):
    _hooked(emu_api, receiver)
    form = emu_api.ok("GET", "/forms", params={"list": "published"})["items"][0]
    stored = emu_api.ok(
        "POST", "/responses", json={"form_uuid": form["uuid"], "id": "wh-1", "nps_score": 8}
    )
    deliveries = emu_api.emu.wait_for_webhooks(1)
    assert deliveries == [
        {
            "seq": 1,
            "url": receiver.url,
            "event": "Completed Survey",
            "status": 200,
            "attempts": 1,
            "delivered": True,
        }
    ]
    hit = receiver.received[0]
    assert hit["headers"]["Content-Type"] == "application/json"
    assert hit["headers"]["Authorization"] == f"Bearer {SECRET}"
    body = hit["body"]
    assert body["triggered_event"] == "Completed Survey"
    assert body["remote_id"] == "wh-1"
    assert body["project_uuid"] == emu_api.ok("GET", "/")["project_uuid"]
    assert body["form"] == {"uuid": form["uuid"], "name": form["name"]}
    assert body["response"]["uuid"] == stored["uuid"]
    assert body["response"]["data"] == {"nps_score": 8}
    assert body["response"]["tags"] == []
    assert body["response"]["completed_at"].endswith(".000000Z")
    assert {"uuid", "email", "attributes", "segments", "account", "first_seen_at"} <= set(body)


def test_segment_and_tag_webhooks(emu_api, receiver):
    _hooked(emu_api, receiver, event_segment="Segment Match", event_tag="Tag added")
    manual = next(s for s in emu_api.ok("GET", "/segments")["items"] if s["is_manual"])
    emu_api.ok("POST", "/sync-segment", json={"segment_uuid": manual["uuid"], "id": "wh-seg"})
    emu_api.ok("POST", "/sync-segment", json={"segment_uuid": manual["uuid"], "id": "wh-seg"})
    response = emu_api.ok("GET", "/responses", params={"page_length": 1})["items"][0]
    emu_api.ok("POST", "/responses/tags", json={"uuid": response["uuid"], "tags": ["hot"]})
    emu_api.ok("POST", "/responses/tags", json={"uuid": response["uuid"], "tags": ["hot"]})
    deliveries = emu_api.emu.wait_for_webhooks(2)
    assert [d["event"] for d in deliveries] == ["Segment Match", "Tag added"]
    segment_body, tag_body = (r["body"] for r in receiver.received)
    assert segment_body["remote_id"] == "wh-seg"
    assert "form" not in segment_body
    assert "response" not in segment_body
    assert manual["uuid"] in {s["uuid"] for s in segment_body["segments"]}
    assert tag_body["response"]["uuid"] == response["uuid"]
    assert "hot" in {t["name"] for t in tag_body["response"]["tags"]}
    assert tag_body["form"]["uuid"] == response["form"]["uuid"]
    assert len(receiver.received) == 2  # repeated entry / repeated tag fire nothing


def test_retries_and_no_secret(emu_api, httpserver):
    flaky = Receiver(httpserver, fail_first=2)
    try:
        emu_api.emu.configure(webhook_urls=[flaky.url])
        form = emu_api.ok("GET", "/forms")["items"][0]["uuid"]
        emu_api.ok("POST", "/responses", json={"form_uuid": form, "id": "wh-r", "q": 1})
        delivery = emu_api.emu.wait_for_webhooks(1)[0]
        assert delivery["delivered"]
        assert delivery["attempts"] == 3
        assert len(flaky.received) == 3
        assert "Authorization" not in flaky.received[0]["headers"]
    finally:
        flaky.close()


def test_no_webhooks_without_urls(emu_api):
    form = emu_api.ok("GET", "/forms")["items"][0]["uuid"]
    emu_api.ok("POST", "/responses", json={"form_uuid": form, "id": "quiet", "q": 1})
    assert emu_api.emu.webhooks() == []
