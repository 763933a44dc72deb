import json

import pytest

from refiner_emulator.params import ParamsError, merge_request_data, parse_pairs


def test_bracket_notation():
    data = parse_pairs(
        [
            ("account[id]", "acct-1"),
            ("account[name]", "Acme"),
            ("form_uuids[]", "a"),
            ("form_uuids[]", "b"),
            ("response_data[nps]", "9"),
            ("plain", "1"),
            ("plain", "2"),
        ]
    )
    assert data == {
        "account": {"id": "acct-1", "name": "Acme"},
        "form_uuids": ["a", "b"],
        "response_data": {"nps": "9"},
        "plain": "2",
    }


def test_malformed_brackets_stay_flat():
    assert parse_pairs([("a]b[", "1"), ("[x]", "2")]) == {"a]b[": "1", "[x]": "2"}


def test_merge_query_form_json():
    form = merge_request_data(
        "id=q&x=1", b"id=f&tags[]=a&tags[]=b", "application/x-www-form-urlencoded"
    )
    assert form == {"id": "f", "x": "1", "tags": ["a", "b"]}
    body = json.dumps({"id": "j", "tags[]": ["c", "d"], "account": {"id": 5}}).encode()
    merged = merge_request_data("id=q&x=1", body, "application/json; charset=utf-8")
    assert merged == {"id": "j", "x": "1", "tags": ["c", "d"], "account": {"id": 5}}


def test_body_without_content_type_is_ignored():
    assert merge_request_data("a=1", b'{"b": 2}', "") == {"a": "1"}


def test_multipart_fields():
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="id"\r\n\r\nmp-user\r\n'
        b'--XX\r\nContent-Disposition: form-data; name="account[id]"\r\n\r\nacct\r\n--XX--\r\n'
    )
    data = merge_request_data("", body, "multipart/form-data; boundary=XX")
    assert data == {"id": "mp-user", "account": {"id": "acct"}}


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]"])
def test_bad_json_rejected(body):
    with pytest.raises(ParamsError):
        merge_request_data("", body, "application/json")


def test_bad_json_is_400_over_http(emu_api):
    reply = emu_api.post(
        "/identify-user", data=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 400
    assert "error" in reply.json()


def test_form_body_identify_with_account_brackets(emu_api):
    emu_api.ok(
        "POST",
        "/identify-user",
        data={"id": "br-1", "account[id]": "acct-br", "account[name]": "Bracket Co", "plan": "pro"},
    )
    stored = emu_api.emu.contact("br-1")
    assert stored["account"]["remote_id"] == "acct-br"
    assert stored["account"]["display_name"] == "Bracket Co"
    assert stored["attributes"]["plan"] == "pro"


def test_query_string_on_post_is_merged(emu_api):
    emu_api.ok("POST", "/identify-user?id=qs-1", json={"role": "Boss"})
    assert emu_api.emu.contact("qs-1")["attributes"]["role"] == "Boss"
