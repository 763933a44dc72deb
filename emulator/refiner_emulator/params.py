"""Request data merging: query string + form body + JSON body, with PHP-style bracket notation.

Refiner is a PHP application, so clients send ``account[id]=x``, ``form_uuids[]=a`` and even JSON
keys such as ``"tags[]"``. Everything is merged into one nested dict the way PHP/Laravel does it:
later sources win (query < form body < JSON body) and a repeated plain key keeps its last value.
"""

from __future__ import annotations

import json
import re
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


class ParamsError(ValueError):
    """The request body could not be decoded (answered with 400)."""


def split_key(key: str) -> list[str]:
    """Split ``a[b][]`` into ``["a", "b", ""]``; an empty part means "append"."""
    first = key.find("[")
    if first <= 0 or not key.endswith("]"):
        return [key]
    rest = key[first:]
    parts = _BRACKETS.findall(rest)
    # Reject keys whose bracket part is not a clean sequence of [..] groups (PHP keeps them flat).
    if "".join(f"[{p}]" for p in parts) != rest:
        return [key]
    return [key[:first], *parts]


def assign(target: dict[str, Any], key: str, value: Any) -> None:  # noqa: ANN401 - any JSON value
    """Store ``value`` under a possibly bracketed ``key`` inside ``target``."""
    parts = split_key(key)
    node: Any = target
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if last:
                node.append(value)
                return
            child: Any = {} if parts[i + 1] != "" else []
            node.append(child)
            node = child
            continue
        if last:
            if part == "":
                return
            node[part] = value
            return
        wanted_list = parts[i + 1] == ""
        existing = node.get(part)
        if wanted_list and not isinstance(existing, list):
            existing = []
            node[part] = existing
        elif not wanted_list and not isinstance(existing, dict):
            existing = {}
            node[part] = existing
        node = existing


def _assign_json_value(target: dict[str, Any], key: str, value: Any) -> None:  # noqa: ANN401
    """JSON keys may carry brackets too (``{"tags[]": [...]}``); a list value fills the list."""
    parts = split_key(key)
    if len(parts) > 1 and parts[-1] == "" and isinstance(value, list):
        base = key[: key.rfind("[")]
        for item in value:
            assign(target, base + "[]", item)
        return
    if len(parts) > 1:
        assign(target, key, value)
        return
    target[key] = value


def parse_pairs(pairs: list[tuple[str, str]], into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fold ``(key, value)`` pairs into a nested dict using bracket notation."""
    out: dict[str, Any] = {} if into is None else into
    for key, value in pairs:
        if key:
            assign(out, key, value)
    return out


def _multipart_pairs(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """Decode simple ``multipart/form-data`` text fields with the standard library only."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    pairs: list[tuple[str, str]] = []
    if not message.is_multipart():
        msg = "Malformed multipart body"
        raise ParamsError(msg)
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else b""
            pairs.append((name, raw.decode("utf-8", "replace")))
    return pairs


def merge_request_data(query_string: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Merge query + body the way Laravel's ``$request->all()`` does.

    Like PHP, a body is only read when its Content-Type says what it is: JSON for
    ``application/json`` (or ``+json``), fields for ``x-www-form-urlencoded`` and
    ``multipart/form-data``. A body without a Content-Type is ignored.
    """
    data = parse_pairs(parse_qsl(query_string, keep_blank_values=True))
    ctype = content_type.split(";", 1)[0].strip().lower()
    if not body.strip():
        return data
    if ctype.endswith(("/json", "+json")):
        try:
            decoded = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            msg = "Request body is not valid JSON"
            raise ParamsError(msg) from exc
        if not isinstance(decoded, dict):
            msg = "JSON body must be an object"
            raise ParamsError(msg)
        for key, value in decoded.items():
            _assign_json_value(data, str(key), value)
    elif ctype == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = "Form body is not UTF-8"
            raise ParamsError(msg) from exc
        parse_pairs(parse_qsl(text, keep_blank_values=True), data)
    elif ctype == "multipart/form-data":
        parse_pairs(_multipart_pairs(body, content_type), data)
    return data
