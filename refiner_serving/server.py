"""Serving plumbing of our two HTTP servers: bind, run uvicorn, announce one ready line."""

from __future__ import annotations

import socket
import sys

import uvicorn

LISTEN_BACKLOG = 2048


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves, so ``--port 0`` can report the port it got.

    ``proto=IPPROTO_TCP`` matters: asyncio only sets ``TCP_NODELAY`` on accepted sockets whose
    ``proto`` says TCP, and without it every response waits ~40 ms for a delayed ACK (Nagle).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def listening_url(sock: socket.socket) -> str:
    """``http://HOST:PORT/`` for a bound socket (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


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
