import uuid

import pytest
import requests

from refiner_emulator.auth import check, extract
from refiner_emulator.testing import EmulatorProcess

NO_KEY = {"error": "No API key found in headers"}
MALFORMED = {"error": "API key does not look valid"}
UNKNOWN = {"message": "API key not valid or does not exist"}
SMALL = ("--contacts", "5", "--responses", "5")


def test_key_check_with_bearer(emu_api):
    body = emu_api.ok("GET", "/")
    assert body["message"] == "Authentication successful"
    assert body["project_name"] == "Production"
    assert len(body["project_uuid"]) == 36


def test_key_as_query_param(fresh_emulator):
    reply = requests.get(
        fresh_emulator.api_url + "/account", params={"api_key": "demo-key"}, timeout=10
    )
    assert reply.status_code == 200
    call = fresh_emulator.calls(path="/v1/account")[-1]
    assert call["auth"] == "query"
    assert "api_key" not in call["params"]


def test_key_as_form_body_param(fresh_emulator):
    reply = requests.post(
        fresh_emulator.api_url + "/identify-user",
        data={"api_key": "demo-key", "id": "form-user"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    call = fresh_emulator.calls(path="/v1/identify-user")[-1]
    assert call["params"] == {"id": "form-user"}


def test_key_as_basic_username(fresh_emulator):
    reply = requests.get(fresh_emulator.api_url + "/", auth=("demo-key", ""), timeout=10)
    assert reply.status_code == 200
    assert fresh_emulator.calls(path="/v1/")[-1]["auth"] == "basic"


def test_bearer_is_logged_as_bearer(emu_api):
    emu_api.ok("GET", "/")
    assert emu_api.emu.calls()[-1]["auth"] == "bearer"


@pytest.mark.parametrize(
    ("headers", "params", "status", "body"),
    [
        ({}, {}, 401, NO_KEY),
        ({"Authorization": "Bearer short"}, {}, 401, NO_KEY),
        ({"Authorization": "Bearer not a valid key!"}, {}, 401, MALFORMED),
        ({}, {"api_key": "bad.key.with.dots"}, 401, MALFORMED),
        ({"Authorization": f"Bearer {uuid.UUID(int=5)}"}, {}, 404, UNKNOWN),
        ({}, {"api_key": "unknown-key-123"}, 404, UNKNOWN),
    ],
)
def test_auth_errors_exact(fresh_emulator, headers, params, status, body):
    reply = requests.get(
        fresh_emulator.api_url + "/account", headers=headers, params=params, timeout=10
    )
    assert reply.status_code == status
    assert reply.json() == body


def test_auth_failure_has_no_side_effects(fresh_emulator):
    reply = requests.post(
        fresh_emulator.api_url + "/identify-user",
        json={"id": "ghost-user"},
        headers={"Authorization": "Bearer unknown-key-123"},
        timeout=10,
    )
    assert reply.status_code == 404
    assert fresh_emulator.contact("ghost-user") is None


def test_unknown_key_status_switch(fresh_emulator):
    fresh_emulator.configure(unknown_key_status=400)
    reply = requests.get(
        fresh_emulator.api_url + "/",
        headers={"Authorization": "Bearer unknown-key-123"},
        timeout=10,
    )
    assert reply.status_code == 400
    assert reply.json() == UNKNOWN


def test_several_keys_and_cli_switch():
    with EmulatorProcess(
        *SMALL,
        "--api-key",
        "first-key",
        "--api-key",
        "second-key",
        "--unknown-key-status",
        "400",
    ) as emu:
        for key in ("first-key", "second-key"):
            reply = requests.get(
                emu.api_url + "/", headers={"Authorization": f"Bearer {key}"}, timeout=10
            )
            assert reply.status_code == 200
        reply = requests.get(
            emu.api_url + "/", headers={"Authorization": "Bearer demo-key"}, timeout=10
        )
        assert reply.status_code == 400


def test_keys_belong_to_projects_and_the_project_uuid_variant():
    """Two keys of one project (a rotation) share its data; another project's key does not."""
    with EmulatorProcess(
        *SMALL,
        "--api-key",
        "old-key-1",
        "--api-key",
        "new-key-2",
        "--other-project-key",
        "other-project-key",
    ) as emu:

        def get(path, key, **kwargs):
            headers = {"Authorization": f"Bearer {key}"}
            return requests.get(emu.api_url + path, headers=headers, timeout=10, **kwargs)

        old, new, other = (
            get("/", k).json() for k in ("old-key-1", "new-key-2", "other-project-key")
        )
        assert old == new
        assert other["project_uuid"] != old["project_uuid"]
        assert (old["project_name"], other["project_name"]) == ("Production", "Testing")
        requests.post(
            emu.api_url + "/identify-user",
            headers={"Authorization": "Bearer old-key-1"},
            json={"id": "rotated-user"},
            timeout=10,
        ).raise_for_status()
        assert get("/contact", "new-key-2", params={"id": "rotated-user"}).status_code == 200
        assert (
            get("/contact", "other-project-key", params={"id": "rotated-user"}).status_code == 404
        )
        emu.configure(key_check_without_project=True)
        assert get("/", "old-key-1").json() == {
            "project_name": "Production",
            "message": "Authentication successful",
        }


def test_extract_order_and_check_rules():
    assert extract("Bearer abcdefgh", {"api_key": "zzzzzzzz"}).method == "bearer"
    assert extract(None, {"api_key": "zzzzzzzz"}).key == "zzzzzzzz"
    assert extract("Basic !!!", {}).key is None
    assert check("abcdefgh", {"abcdefgh"}, 404) is None
    assert check("abc", {"abc"}, 404) == (401, NO_KEY)
    assert check("a" * 129, set(), 404) == (401, MALFORMED)
