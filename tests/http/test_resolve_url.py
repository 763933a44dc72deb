"""resolve_url joins paths the way users type them."""

from __future__ import annotations

import pytest

from refiner_http.client import resolve_url

BASE = "https://api.refiner.io/v1"


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        (BASE, "/v1/contacts", f"{BASE}/contacts"),
        (BASE, "contacts", f"{BASE}/contacts"),
        (BASE, "/contacts", f"{BASE}/contacts"),
        (BASE + "/", "/v1/contacts", f"{BASE}/contacts"),
        (BASE, "/v1", BASE),
        (BASE, "/v1/", f"{BASE}/"),
        (BASE, "/v10/x", f"{BASE}/v10/x"),
        (BASE, "https://other.example/v1/x", "https://other.example/v1/x"),
        ("http://127.0.0.1:8080/v1", "/v1/responses", "http://127.0.0.1:8080/v1/responses"),
    ],
)
def test_resolve_url(base, path, expected):
    assert resolve_url(base, path) == expected
