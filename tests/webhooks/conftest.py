"""Fixtures for the webhook receiver: a real receiver subprocess, a poster, a store reader."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest
import requests

from refiner_webhooks.testing import ReceiverProcess

SECRET = "whsec-test-0123456789"  # noqa: S105 - a test token
WRONG_SECRET = "whsec-wrong-0123456789"  # noqa: S105 - a test token


@pytest.fixture
def secret():
    return SECRET


@pytest.fixture
def wrong_secret():
    return WRONG_SECRET


@pytest.fixture
def post():
    """POST a body (dict/list as JSON, else as-is) with the secret; return (status, json)."""

    def _post(url, body, *, secret=SECRET, path="webhooks", headers=None, **kw):
        headers = dict(headers or {})
        session = kw.pop("session", None)
        if secret is not None:
            headers["Authorization"] = f"Bearer {secret}"
        headers.setdefault("Content-Type", "application/json")
        data = json.dumps(body) if isinstance(body, (dict, list)) else body
        sender = session or requests
        with sender.post(url + path, data=data, headers=headers, timeout=10, **kw) as reply:
            try:
                return reply.status_code, reply.json()
            except ValueError:
                return reply.status_code, None

    return _post


@pytest.fixture
def rows():
    """Every row of a store, in seq order (opened read-only)."""

    def _rows(store):
        with closing(sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)) as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM events ORDER BY seq")]

    return _rows


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "events.sqlite"


@pytest.fixture
def receiver(store_path):
    with ReceiverProcess(store_path, secret=SECRET) as proc:
        yield proc
