"""`refiner-api` against the emulator, as a real subprocess (exit codes, stdout, stderr)."""

import json
import os
import subprocess
import sys

import pytest

from refiner_api.cli import build_parser, call
from tests.local_http import closed_port_url

BAD_KEY = "sk-live-not-a-real-key-0123456789"


@pytest.fixture
def api(fresh_emulator):
    """Run `refiner-api ARGS` with the emulator's URL; returns the CompletedProcess."""

    def run(*args, key=fresh_emulator.api_key, url=fresh_emulator.api_url, stdin=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("REFINER_")}
        if key is not None:
            env["REFINER_API_KEY"] = key
        if url is not None:
            env["REFINER_API_URL"] = url
        return subprocess.run(
            [sys.executable, "-m", "refiner_api.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            input=stdin,
            timeout=60,
            check=False,
        )

    return run


def test_get_prints_pretty_json(api):
    result = api("GET", "/v1/contacts", "--query", "page_length=2")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert len(body["items"]) == 2
    assert body["pagination"]["page_length"] == 2
    assert result.stdout.startswith("{\n  ")


def test_path_without_version_is_relative_to_api_url(api, fresh_emulator):
    with_version = api("GET", "/v1/segments")
    without = api("GET", "segments")
    assert with_version.returncode == without.returncode == 0
    assert json.loads(with_version.stdout) == json.loads(without.stdout)
    assert {c["path"] for c in fresh_emulator.calls()} == {"/v1/segments"}


def test_repeated_query_keys_become_repeated_params(api, fresh_emulator):
    forms = json.loads(api("GET", "/v1/forms").stdout)["items"]
    first, second = forms[0]["uuid"], forms[1]["uuid"]
    result = api(
        "GET",
        "/v1/responses",
        "--query",
        f"form_uuids[]={first}",
        "--query",
        f"form_uuids[]={second}",
    )
    assert result.returncode == 0, result.stderr
    (call,) = fresh_emulator.calls(path="/v1/responses")
    assert call["params"]["form_uuids"] == [first, second]
    assert {r["form"]["uuid"] for r in json.loads(result.stdout)["items"]} <= {first, second}


def test_post_then_get_then_delete(api, tmp_path):
    created = api("POST", "/v1/identify-user", "--data", '{"id": "cli-user", "plan": "pro"}')
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["contact_uuid"]

    body = tmp_path / "traits.json"
    body.write_text('{"id": "cli-user", "seats": 12}')
    assert api("POST", "/v1/identify-user", "--data", f"@{body}").returncode == 0

    contact = json.loads(api("GET", "/v1/contact", "--query", "id=cli-user").stdout)
    assert contact["remote_id"] == "cli-user"
    assert contact["attributes"]["plan"] == "pro"
    assert contact["attributes"]["seats"] == 12

    deleted = api("DELETE", "/v1/contact", "--query", "id=cli-user")
    assert deleted.returncode == 0, deleted.stderr
    assert "message" in json.loads(deleted.stdout)

    gone = api("GET", "/v1/contact", "--query", "id=cli-user")
    assert gone.returncode == 1
    assert gone.stdout == ""
    assert "404" in gone.stderr
    assert "Contact not found" in gone.stderr


def test_data_from_stdin(api):
    result = api("POST", "/v1/track-event", "--data", "@-", stdin='{"id": "u-1", "event": "Ping"}')
    assert result.returncode == 0, result.stderr


def test_paginate_prints_every_item_as_jsonl(api, fresh_emulator):
    total = json.loads(api("GET", "/v1/contacts", "--query", "page_length=1").stdout)
    expected = total["pagination"]["items_count"]
    result = api("GET", "/v1/contacts", "--paginate", "--query", "page_length=70")
    assert result.returncode == 0, result.stderr
    items = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(items) == expected == len({i["uuid"] for i in items})
    calls = fresh_emulator.calls(path="/v1/contacts")[1:]
    assert len(calls) == -(-expected // 70)
    assert all("page_cursor" in c["params"] for c in calls[1:])


def test_bad_key_fails_with_the_api_message_and_never_shows_the_key(api):
    result = api("GET", "/v1/contacts", key=BAD_KEY)
    assert result.returncode == 1
    assert "API key" in result.stderr
    assert "404" in result.stderr or "401" in result.stderr
    assert BAD_KEY not in result.stdout + result.stderr


def test_missing_key_is_a_usage_error(api):
    result = api("GET", "/v1/contacts", key=None)
    assert result.returncode == 2
    assert "REFINER_API_KEY" in result.stderr


def test_config_file_supplies_key_and_url(api, fresh_emulator, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"api_key": fresh_emulator.api_key, "api_url": fresh_emulator.api_url})
    )
    result = api("GET", "/v1/", "--config", str(config), key=BAD_KEY, url="http://127.0.0.1:9")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["message"] == "Authentication successful"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("GET", "/v1/contacts", "--query", "novalue"), "--query expects K=V"),
        (("POST", "/v1/identify-user", "--data", "{oops"), "--data is not valid JSON"),
        (("POST", "/v1/identify-user", "--data", "@/nonexistent.json"), "cannot read"),
        (("GET", "/v1/contacts", "--header", "Authorization=Bearer x"), "Authorization"),
        (("POST", "/v1/contacts", "--paginate"), "--paginate works with GET"),
        (("GET", "/v1/contacts", "--config", "/nonexistent.json"), "--config"),
        (("FETCH", "/v1/contacts"), "invalid choice"),
    ],
)
def test_usage_errors_exit_2(api, args, message):
    result = api(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_retries_transient_errors_through_the_shared_policy(api, fresh_emulator):
    fresh_emulator.fault(503, count=1, path="/v1/segments")
    result = api("GET", "/v1/segments")
    assert result.returncode == 0, result.stderr
    statuses = [c["status"] for c in fresh_emulator.calls(path="/v1/segments")]
    assert statuses == [503, 200]


def test_gives_up_after_max_tries(api, fresh_emulator):
    fresh_emulator.fault(500, count=5, path="/v1/segments")
    result = api("GET", "/v1/segments", "--max-tries", "2")
    assert result.returncode == 1
    assert "500" in result.stderr
    assert len(fresh_emulator.calls(path="/v1/segments")) == 2


class RecordingClient:
    """Stands in for RefinerClient to see exactly what `call` asks it to send."""

    def __init__(self):
        self.sent = []

    def send(self, method, path, **kwargs):
        self.sent.append((method, path, kwargs))
        return FakeResponse()


class FakeResponse:
    content = b'{"ok": true}'

    def json(self):
        return {"ok": True}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def test_call_passes_headers_repeated_params_and_body(capsys):
    args = build_parser().parse_args(
        [
            *("post", "/v1/x", "--query", "a[]=1", "--query", "a[]=2", "--query", "b=x=y"),
            *("--header", "X-Trace=abc", "--data", '{"k": [1]}'),
        ]
    )
    client = RecordingClient()
    call(client, args)
    ((method, path, kwargs),) = client.sent
    assert (method, path) == ("POST", "/v1/x")
    assert kwargs["params"] == {"a[]": ["1", "2"], "b": ["x=y"]}
    assert kwargs["headers"] == {"X-Trace": "abc"}
    assert kwargs["json_body"] == {"k": [1]}
    assert json.loads(capsys.readouterr().out) == {"ok": True}


def test_unreachable_api_exits_1(api):
    result = api("GET", "/v1/contacts", "--max-tries", "1", url="http://127.0.0.1:9/v1")
    assert result.returncode == 1
    assert "127.0.0.1:9" in result.stderr


def test_unreachable_api_ends_in_one_sentence(api):
    url = closed_port_url()
    result = api("GET", "/v1/contacts", "--max-tries", "2", url=url, key=BAD_KEY)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"refiner-api: Could not reach Refiner at {url.removesuffix('/v1')} (GET /v1/contacts): "
        "connection refused; gave up after 2 tries (setting `max_tries`)."
    )
    assert "Max retries exceeded" not in result.stderr
    assert BAD_KEY not in result.stderr
