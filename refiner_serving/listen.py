"""The listening socket of our servers, bound by us so ``--port 0`` can report the port it got.

Standard library only: a CLI can bind (and report a busy port) before it needs the server stack.
"""

from __future__ import annotations

import socket

LISTEN_BACKLOG = 2048


def bind(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` (``0`` picks a free port).

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
