"""What every pytest-httpserver server of the suite shares: match every path, echo the target.

And ``closed_port_url``: where no server listens.

The servers themselves are pytest-httpserver's (the ``httpserver`` fixture, or an own
``HTTPServer`` where a test needs several at once or concurrent requests); each test module
adds only its handler.
"""

from __future__ import annotations

import json
import re
import socket

from werkzeug import Request, Response

ANY_PATH = re.compile(r"/.*")


def request_target(request: Request) -> str:
    """The path and query as the client sent them (``/v1/contacts?page=2``)."""
    query = request.query_string.decode()
    return f"{request.path}?{query}" if query else request.path


def json_reply(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    """``body`` as JSON with ``status`` and extra ``headers``."""
    return Response(json.dumps(body), status, headers, content_type="application/json")


def closed_port_url() -> str:
    """An API URL on 127.0.0.1 where nothing listens: every connection is refused.

    The port was just bound and released, so no other server of the suite holds it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
