"""uvicorn announcing itself: one ready line on stdout once it accepts connections."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import uvicorn

from refiner_serving.listen import listening_url

if TYPE_CHECKING:
    import socket


class AnnouncingServer(uvicorn.Server):
    """uvicorn's server, printing one ready line once it accepts connections.

    Orchestrators, tests and the demo wait for that line instead of polling the port.
    ``ready_line`` is formatted with ``url`` (the listening URL, ending in ``/``).
    """

    def __init__(self, config: uvicorn.Config, sock: socket.socket, ready_line: str) -> None:
        """Remember the socket whose URL to announce."""
        super().__init__(config)
        self._sock = sock
        self._ready_line = ready_line

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start, then print the ready line."""
        await super().startup(sockets=sockets)
        if self.started:
            sys.stdout.write(self._ready_line.format(url=listening_url(self._sock)) + "\n")
            sys.stdout.flush()
