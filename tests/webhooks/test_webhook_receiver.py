import re

import pytest
import requests

from refiner_webhooks.testing import ReceiverProcess, sample_event


def test_ready_line_names_a_free_port(receiver):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", receiver.url)
    assert not receiver.url.endswith(":0/")


@pytest.mark.parametrize("path", ["", "webhooks"])
def test_valid_event_is_stored_before_200(receiver, store_path, post, rows, path):
    status, body = post(receiver.url, sample_event(1), path=path)
    assert (status, body) == (200, {"status": "stored", "seq": 1})
    # The 200 means committed: a separate reader sees it right away.
    (row,) = rows(store_path)
    assert row["triggered_event"] == "Completed Survey"
    assert row["response_uuid"] == "response-1"
    assert row["contact_uuid"] == "contact-1"
    assert row["segment_uuids"] == '["seg-all"]'
    assert len(row["dedupe_key"]) == 64


def test_redelivery_is_stored_once_and_still_acknowledged(receiver, store_path, post, rows):
    first = post(receiver.url, sample_event(1))
    again = post(receiver.url, {**sample_event(1), "last_seen_at": "2026-05-05T00:00:00Z"})
    assert first == (200, {"status": "stored", "seq": 1})
    assert again == (200, {"status": "duplicate", "seq": 1})
    assert len(rows(store_path)) == 1


REJECTIONS = {
    "no token": ({"secret": None}, 401),
    "wrong token": ({"secret": "whsec-wrong-0123456789"}, 401),
    "wrong scheme": ({"secret": None, "headers": {"Authorization": "Basic abc"}}, 401),
    "not json": ({"body": b"{not json"}, 400),
    "json array": ({"body": b"[1, 2]"}, 400),
    "json string": ({"body": b'"hello"'}, 400),
    "NaN": ({"body": b'{"a": NaN}'}, 400),
    "not utf-8": ({"body": b"\xff\xfe{"}, 400),
    "empty": ({"body": b""}, 400),
}


@pytest.mark.parametrize("case", REJECTIONS, ids=list(REJECTIONS))
def test_rejections_store_nothing(receiver, post, rows, case, secret):
    options, expected = REJECTIONS[case]
    options = dict(options)
    body = options.pop("body", sample_event(1))
    status, reply = post(receiver.url, body, **options)
    assert status == expected
    assert "error" in reply
    assert rows(receiver.store) == []
    log = receiver.log_text()
    assert f"with {expected}" in log
    assert secret not in log
    assert "whsec-wrong" not in log


def test_oversize_declared_body_is_refused_before_reading(store_path, post, rows, secret):
    with ReceiverProcess(store_path, "--max-body-bytes", "1000", secret=secret) as proc:
        big = {**sample_event(1), "padding": "x" * 2000}
        assert post(proc.url, big)[0] == 413
        small = sample_event(2)
        assert post(proc.url, small)[0] == 200
    assert [r["response_uuid"] for r in rows(store_path)] == ["response-2"]


def test_oversize_chunked_body_is_refused_while_streaming(store_path, post, rows, secret):
    # A chunked body has no Content-Length: the limit must hold while reading.
    def chunks():
        yield b'{"padding": "'
        for _ in range(50):
            yield b"x" * 100
        yield b'"}'

    with ReceiverProcess(store_path, "--max-body-bytes", "1000", secret=secret) as proc:
        assert post(proc.url, chunks())[0] == 413
        assert "body over 1000 bytes" in proc.log_text()
    assert rows(store_path) == []


def test_get_is_not_an_event(receiver, store_path, rows):
    with requests.get(receiver.url + "webhooks", timeout=5) as reply:
        assert reply.status_code == 405
    assert rows(store_path) == []


def test_healthz_reports_the_store(receiver, post):
    post(receiver.url, sample_event(1))
    with requests.get(receiver.url + "healthz", timeout=5) as reply:
        assert reply.status_code == 200
        assert reply.json() == {"status": "ok", "events": 1, "last_seq": 1}


def test_without_a_secret_every_event_is_accepted(store_path, post):
    with ReceiverProcess(store_path) as proc:
        assert post(proc.url, sample_event(1), secret=None)[0] == 200
        assert "No secret set" in proc.log_text()


def test_secret_never_printed(store_path, post, secret, wrong_secret):
    proc = ReceiverProcess(store_path, "--log-level", "debug", "--access-log", secret=secret)
    with proc:
        post(proc.url, sample_event(1))
        post(proc.url, sample_event(1), secret=wrong_secret)
    log = proc.log_text()
    assert secret not in log
    assert wrong_secret not in log


def test_events_survive_a_restart(store_path, post, rows, secret):
    with ReceiverProcess(store_path, secret=secret) as proc:
        post(proc.url, sample_event(1))
    with ReceiverProcess(store_path, secret=secret) as proc:
        assert post(proc.url, sample_event(1)) == (200, {"status": "duplicate", "seq": 1})
        assert post(proc.url, sample_event(2)) == (200, {"status": "stored", "seq": 2})
    assert len(rows(store_path)) == 2


def test_unusable_store_exits_with_a_message(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(RuntimeError, match="Cannot open the store"):
        ReceiverProcess(blocker / "events.sqlite", log_path=tmp_path / "log").start()
