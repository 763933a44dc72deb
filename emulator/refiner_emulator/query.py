"""Parameter coercion and the list filters shared by /responses, /contacts and /reporting.

Values arrive as strings (query/form) or JSON types; these helpers accept both and answer
400 ``{"error": ...}`` for anything else, as a Laravel validator would.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import TYPE_CHECKING, Any

from refiner_emulator.store import MAX_TEXT, ApiError
from refiner_emulator.timefmt import parse_datetime

if TYPE_CHECKING:
    from collections.abc import Callable

    from refiner_emulator.store import Contact, Response, Store

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
INCLUDE_VALUES = ("completed", "partials", "all")


def text_param(params: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    """A string (or number used as an id); ``None`` when absent or empty."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(400, f"The {name} field is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ApiError(400, f"The {name} must be a string.")
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TEXT:
        raise ApiError(400, f"The {name} may not be greater than {MAX_TEXT} characters.")
    return text


def email_param(params: dict[str, Any], name: str = "email") -> str | None:
    """An email address, checked for the basic ``a@b.c`` shape."""
    email = text_param(params, name)
    if email is not None and not _EMAIL.match(email):
        raise ApiError(400, f"The {name} must be a valid email address.")
    return email


def bool_param(params: dict[str, Any], name: str, *, default: bool) -> bool:
    """``1/0``, ``true/false`` (strings or JSON) as sent by the various clients."""
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS:
        return True
    if isinstance(value, str) and value.strip().lower() in FALSE_WORDS:
        return False
    raise ApiError(400, f"The {name} field must be true or false.")


def list_param(params: dict[str, Any], name: str) -> list[str]:
    """``name[]=a&name[]=b`` or a JSON list; a lone string counts as one value."""
    value = params.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list) and all(
        isinstance(v, (str, int)) and not isinstance(v, bool) for v in value
    ):
        return [str(v) for v in value if v != ""]
    raise ApiError(400, f"The {name} must be an array of strings.")


def dict_param(params: dict[str, Any], name: str) -> dict[str, Any]:
    """``name[key]=value`` filters; must be an object if given."""
    value = params.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise ApiError(400, f"The {name} must be an object.")
    return value


def date_param(params: dict[str, Any], name: str) -> float | None:
    """ISO 8601 date or datetime (``2026-01-01``, ``2026-01-01 10:00:00``, ``…T…Z``)."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"The {name} is not a valid date.")
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise ApiError(400, f"The {name} is not a valid date.") from exc


def matches(stored: Any, wanted: Any) -> bool:  # noqa: ANN401 - JSON values
    """Equality filter as an HTTP query sees it: compare textual forms."""
    if isinstance(stored, bool):
        return str(wanted).lower() in (TRUE_WORDS if stored else FALSE_WORDS)
    if stored is None:
        return wanted in (None, "")
    if isinstance(stored, float) and stored.is_integer():
        stored = int(stored)
    return str(stored) == str(wanted)


def _contact_text_match(contact: Contact, needle: str) -> bool:
    if contact.uuid == needle:
        return True
    lowered = needle.casefold()
    return any(
        value is not None and lowered in value.casefold()
        for value in (contact.remote_id, contact.email, contact.display_name)
    )


def contact_filter(store: Store, params: dict[str, Any]) -> Callable[[Contact], bool] | None:
    """The predicate for GET /contacts, or None when nothing filters."""
    form_uuid = text_param(params, "form_uuid")
    segment_uuid = text_param(params, "segment_uuid")
    search = text_param(params, "search")
    checks: list[Callable[[Contact], bool]] = []
    if form_uuid is not None:
        linked = {r.contact.seq for r in store.responses.values() if r.form.uuid == form_uuid}
        checks.append(lambda c: c.seq in linked)
    if segment_uuid is not None:
        checks.append(lambda c: segment_uuid in c.segments)
    if search is not None:
        checks.append(lambda c: _contact_text_match(c, search))
    if not checks:
        return None
    return lambda c: all(check(c) for check in checks)


def _data_checks(params: dict[str, Any]) -> list[Callable[[Response], bool]]:
    """``response_data[…]``, ``contact_data[…]``, ``account_data[…]`` equality filters."""
    checks: list[Callable[[Response], bool]] = []
    for key, wanted in dict_param(params, "response_data").items():

        def data_check(r: Response, k: str = key, w: Any = wanted) -> bool:  # noqa: ANN401
            return k in r.data and matches(r.data[k], w)

        checks.append(data_check)
    for key, wanted in dict_param(params, "contact_data").items():

        def contact_check(r: Response, k: str = key, w: Any = wanted) -> bool:  # noqa: ANN401
            c = r.contact
            known = {"email": c.email, "name": c.display_name, "remote_id": c.remote_id}
            value = c.attributes.get(k, known.get(k))
            return (k in c.attributes or k in known) and matches(value, w)

        checks.append(contact_check)
    for key, wanted in dict_param(params, "account_data").items():

        def account_check(r: Response, k: str = key, w: Any = wanted) -> bool:  # noqa: ANN401
            a = r.contact.account
            if a is None:
                return False
            known = {"name": a.display_name, "domain": a.domain, "remote_id": a.remote_id}
            value = a.attributes.get(k, known.get(k))
            return (k in a.attributes or k in known) and matches(value, w)

        checks.append(account_check)
    return checks


def response_filter(
    params: dict[str, Any], *, plural_only: bool = False
) -> Callable[[Response], bool] | None:
    """Predicate for the §3.6 filters (forms, segments, tags, search, data equality)."""
    forms = set(list_param(params, "form_uuids"))
    segments = set(list_param(params, "segment_uuids"))
    tags = set(list_param(params, "tag_uuids"))
    if not plural_only:
        for name, target in (("form_uuid", forms), ("segment_uuid", segments), ("tag_uuid", tags)):
            single = text_param(params, name)
            if single is not None:
                target.add(single)
    search = None if plural_only else text_param(params, "search")
    checks: list[Callable[[Response], bool]] = []
    if forms:
        checks.append(lambda r: r.form.uuid in forms)
    if segments:
        checks.append(lambda r: not segments.isdisjoint(r.contact.segments))
    if tags:
        checks.append(lambda r: any(t.uuid in tags for t in r.tags))
    if search is not None:
        checks.append(lambda r: _contact_text_match(r.contact, search))
    checks += _data_checks(params)
    if not checks:
        return None
    return lambda r: all(check(r) for check in checks)


def date_window(
    keys: list[tuple[Any, ...]], start: float | None, end: float | None
) -> list[tuple[Any, ...]]:
    """Rows of a newest-first ``(-ts, seq)`` index with ``start <= ts < end``, by bisection."""
    lo = 0 if end is None else bisect_right(keys, (-end, float("inf")))
    hi = len(keys) if start is None else bisect_right(keys, (-start, float("inf")))
    return keys[lo:hi] if (lo, hi) != (0, len(keys)) else keys
