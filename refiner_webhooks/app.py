"""The receiver's HTTP surface: accept Refiner webhooks, store them durably, then say 200.

Checks run cheapest first and nothing is stored unless all pass: the bearer token (401), the
body size while it streams in (413), then the body must be a JSON object (400). A 200 is sent
only after the event's transaction has committed, so Refiner never sees success for an event we
could still lose; any storage failure is a 500, which invites Refiner to deliver it again.
"""

from __future__ import annotations

import hmac
import json
import logging
import sqlite3
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from refiner_stores import StoreError
from refiner_webhooks.event import WebhookEvent
from refiner_webhooks.writer import GroupCommitWriter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from refiner_webhooks.stores import AnyEventStore

logger = logging.getLogger("refiner_webhooks")


class Rejected(Exception):  # noqa: N818 - a rejection, not a failure of ours
    """A request we refuse: its HTTP status and a reason safe to log (never the token)."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        """Keep the status and the loggable reason."""
        super().__init__(reason)
        self.status = status
        self.reason = reason


def authorize(request: Request, secret: str | None) -> None:
    """``Rejected(401)`` unless no secret is set or the request carries it."""
    if secret and not token_matches(request.headers.get("authorization"), secret):
        raise Rejected(
            HTTPStatus.UNAUTHORIZED, "missing or wrong token in the Authorization header"
        )


def token_matches(authorization: str | None, secret: str) -> bool:
    """Whether ``Authorization`` is ``Bearer <secret>``, compared in constant time."""
    scheme, _, token = (authorization or "").partition(" ")
    # Header values arrive latin-1 decoded; re-encode to compare the bytes that were sent.
    sent = token.strip().encode("latin-1", errors="replace")
    matches = hmac.compare_digest(sent, secret.encode())
    return matches and scheme.lower() == "bearer"


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, or ``Rejected(413)`` as soon as it exceeds ``limit`` bytes.

    A declared ``Content-Length`` above the limit is refused before reading; the running count
    catches chunked bodies and bodies longer than they declared.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Rejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body of {declared} bytes > {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> float:
    """``NaN``/``Infinity`` are not JSON; refusing them keeps every stored payload valid JSON."""
    msg = f"{name} is not valid JSON"
    raise ValueError(msg)


def parse_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or ``Rejected(400)``."""
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise Rejected(HTTPStatus.BAD_REQUEST, "body is not valid JSON") from exc
    if not isinstance(value, dict):
        kind = type(value).__name__.replace("dict", "object").replace("list", "array")
        raise Rejected(HTTPStatus.BAD_REQUEST, f"body is a JSON {kind}, not an object")
    return value


def create_app(store: AnyEventStore, *, secret: str | None, max_body_bytes: int) -> Starlette:
    """The ASGI app; it starts the writer thread on startup and closes the store on shutdown."""
    writer = GroupCommitWriter(store)

    async def receive(request: Request) -> JSONResponse:
        peer = request.client.host if request.client else "unknown"
        try:
            authorize(request, secret)
            payload = parse_object(await read_limited(request, max_body_bytes))
        except Rejected as rejection:
            logger.warning(
                "Rejected webhook from %s with %d: %s",
                peer,
                rejection.status,
                rejection.reason,
            )
            return JSONResponse({"error": rejection.reason}, status_code=rejection.status)
        except ClientDisconnect:
            logger.warning("Webhook from %s: client went away before the body ended", peer)
            return JSONResponse({"error": "incomplete body"}, status_code=HTTPStatus.BAD_REQUEST)
        event = WebhookEvent.from_payload(payload)
        try:
            stored = await writer.write(event)
        except (sqlite3.Error, StoreError):
            # Already logged by the writer; a 5xx makes the sender deliver it again.
            return JSONResponse(
                {"error": "could not store the event"},
                status_code=HTTPStatus.INTERNAL_SERVER_ERROR,
            )
        logger.debug(
            "Stored %s as seq %d%s",
            event.triggered_event,
            stored.seq,
            " (duplicate)" if stored.duplicate else "",
        )
        return JSONResponse(
            {"status": "duplicate" if stored.duplicate else "stored", "seq": stored.seq}
        )

    async def healthz(_: Request) -> JSONResponse:
        try:
            counts = await writer.check()
        except Exception as exc:
            logger.exception("Health check failed")
            return JSONResponse(
                {"status": "error", "error": str(exc)},
                status_code=HTTPStatus.SERVICE_UNAVAILABLE,
            )
        return JSONResponse({"status": "ok", **counts})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        writer.start()
        try:
            yield
        finally:
            writer.stop()

    return Starlette(
        routes=[
            Route("/", receive, methods=["POST"]),
            Route("/webhooks", receive, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
