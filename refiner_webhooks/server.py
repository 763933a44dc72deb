"""The receiver on uvicorn: the part of ``refiner-webhooks serve`` needing the ``webhooks`` extra.

Only ``refiner_webhooks.__main__`` imports this module, and only once it has checked that the
server stack (starlette, uvicorn) is installed; the store the tap reads never needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import uvicorn

from refiner_serving.server import AnnouncingServer
from refiner_webhooks.app import create_app

if TYPE_CHECKING:
    import socket

    from refiner_webhooks.stores import AnyEventStore

READY_LINE = "Refiner webhook receiver listening on {url}"
GRACEFUL_SHUTDOWN_SECONDS = 10


def run(
    store: AnyEventStore,
    sock: socket.socket,
    *,
    secret: str | None,
    max_body_bytes: int,
    access_log: bool,
) -> None:
    """Serve on ``sock`` until a signal asks us to stop; in-flight requests finish first."""
    app = create_app(store, secret=secret, max_body_bytes=max_body_bytes)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=access_log,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        server_header=False,
    )
    with sock:
        AnnouncingServer(config, sock, READY_LINE).run(sockets=[sock])
