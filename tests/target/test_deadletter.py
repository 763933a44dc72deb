"""Dead-letter and dry-run lines: strict JSON, the row as it arrived, only known secrets masked."""

from __future__ import annotations

import decimal
import json

import pytest

from refiner_http import Redactor
from target_refiner.deadletter import DeadLetter, JsonLines, holds_secret, masked_line, plain_line

KEY = "sk-live-0123456789"


def strict_lines(path):
    """Every line parsed the strict way: NaN/Infinity literals are errors, not floats."""

    def refuse(name):
        pytest.fail(f"non-standard JSON constant {name} in {path}")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


@pytest.fixture
def dead_letter(tmp_path):
    out = DeadLetter(tmp_path / "dl.jsonl", Redactor([KEY]))
    yield out
    out.close()


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (decimal.Decimal("NaN"), "NaN"),
        (decimal.Decimal("-Infinity"), "-Infinity"),
    ],
)
def test_non_finite_numbers_become_documented_strings_and_the_reason_says_so(
    dead_letter, value, written
):
    dead_letter.reject("users", {"id": "u1", "score": value}, "field 'score' is not a number")
    dead_letter.close()
    [line] = strict_lines(dead_letter.path)
    assert line["record"] == {"id": "u1", "score": written}
    assert line["reason"] == (
        f"field 'score' is not a number; field 'score' was {written}, "
        f'written as the string "{written}"'
    )


def test_nested_non_finite_values_are_named_by_their_path(dead_letter):
    dead_letter.reject("users", {"id": "u1", "stats": {"ratio": [1, float("nan")]}}, "bad")
    dead_letter.close()
    [line] = strict_lines(dead_letter.path)
    assert line["record"]["stats"] == {"ratio": [1, "NaN"]}
    assert "field 'stats.ratio.1' was NaN" in line["reason"]


def test_ordinary_values_are_written_as_they_arrived(dead_letter):
    row = {
        "id": "u1",
        "plan": "Basic Monthly",
        "motto": "bearer of news",
        "link": "https://x.example/?token=abc",
        "auth": "Bearer abc.def",
        "price": decimal.Decimal("9.90"),
        "seats": decimal.Decimal(12),
        "big": decimal.Decimal("3.14159265358979323846264338"),
        "nested": {"a": [1, 2.5, None, True]},
    }
    dead_letter.reject("users", row, "no user id")
    dead_letter.close()
    [line] = strict_lines(dead_letter.path)
    assert line["record"] == {
        **row,
        "price": 9.9,
        "seats": 12,
        "big": "3.14159265358979323846264338",
    }
    assert line["reason"] == "no user id"


def test_only_the_configured_secret_is_masked_and_json_stays_valid(dead_letter):
    row = {
        "id": "u1",
        "plan": "Basic Monthly",
        "motto": "bearer of news",
        "link": "https://x.example/?token=abc",
        "note": f'pasted "{KEY}" by mistake',
        KEY: "as a key",
    }
    dead_letter.reject("users", row, f"rejected for {KEY}", status=400, body={"echo": KEY})
    dead_letter.close()
    text = dead_letter.path.read_text()
    assert KEY not in text
    [line] = strict_lines(dead_letter.path)
    assert line["record"] == {
        "id": "u1",
        "plan": "Basic Monthly",
        "motto": "bearer of news",
        "link": "https://x.example/?token=abc",
        "note": 'pasted "***" by mistake',
        "***": "as a key",
    }
    assert line["reason"] == "rejected for ***"
    assert line["body"] == {"echo": "***"}


def test_a_secret_with_json_special_characters_is_masked_too(tmp_path):
    key = 'se"cr\\et\n'
    out = JsonLines(tmp_path / "out.jsonl", Redactor([key]))
    out.write({"stream": "users", "value": f"x{key}y", "number": 1})
    out.close()
    [line] = strict_lines(out.path)
    assert line == {"stream": "users", "value": "x***y", "number": 1}


def test_a_number_holding_the_secret_is_masked(tmp_path):
    out = JsonLines(tmp_path / "out.jsonl", Redactor(["12345678"]))
    out.write({"stream": "users", "value": 9123456789})
    out.close()
    assert strict_lines(out.path) == [{"stream": "users", "value": "9***9"}]


def test_the_fast_path_line_is_the_plain_serialisation(tmp_path):
    out = JsonLines(tmp_path / "out.jsonl", Redactor([KEY]))
    obj = {"stream": "users", "method": "POST", "json_body": {"id": "u1", "score": 1.5}}
    assert out.line(obj) == json.dumps(obj, ensure_ascii=False)


@pytest.mark.parametrize(
    "obj",
    [
        {"id": "u1"},
        {"id": 42, "account": -7, "big": 123456789012345678901234567890},
        {"id": 'quote " backslash \\ slash / tab \t newline \n nul \x00 bell \x07'},
        {"id": "é ü 中文 😀 \u2028 \u2029 \ufeff"},
        {"é": "key not ascii", "": "empty key", " spaced ": ""},
        {"flag": True, "none": None, "ratio": 1.5, "exact": decimal.Decimal("2.25")},
        {"nested": {"a": [1, "b"]}, "id": "u1"},
        {},
    ],
)
def test_plain_line_is_what_masked_line_writes_when_there_is_no_secret(obj):
    line = plain_line(obj)
    assert line == masked_line(obj, Redactor([KEY]))
    assert json.loads(line, parse_float=decimal.Decimal) == obj


def test_plain_line_refuses_what_masked_line_would_rewrite():
    with pytest.raises(ValueError, match="Out of range float"):
        plain_line({"id": "u1", "score": float("nan")})


@pytest.mark.parametrize(
    ("texts", "found"),
    [
        (["u1", "a@x.io", '{"id": "u1"}'], False),
        (["u1", f"key {KEY} pasted"], True),
        ([json.dumps({"id": 'se"cr\\et\n'})], True),  # inside JSON: escaped
        (['se"cr\\', "et\n"], False),  # never across two texts
        ([], False),
    ],
)
def test_holds_secret_searches_every_text_once_as_is_and_escaped(texts, found):
    redactor = Redactor([KEY, 'se"cr\\et\n'])
    assert holds_secret(texts, redactor) is found
