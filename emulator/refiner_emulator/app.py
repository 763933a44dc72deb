"""Starlette application: the /v1 request pipeline and the private /_emulator routes.

Pipeline per API request: latency -> queued/random fault -> route lookup -> auth -> body
errors -> rate limit -> handler. Everything up to the handler is side-effect free, so a
faulted, unauthorised or rate-limited request changes no data and consumes no quota.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import Counter, deque
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from refiner_emulator import auth, render, timefmt
from refiner_emulator.faults import (
    FAULT_KINDS,
    FAULT_STATUSES,
    TOO_MANY,
    TOO_OFTEN,
    Fault,
    FaultInjector,
    FaultReply,
)
from refiner_emulator.handlers import ROUTES, Context
from refiner_emulator.page_writer import Pager, Untidy
from refiner_emulator.params import ParamsError, merge_request_data
from refiner_emulator.ratelimit import RateLimiter
from refiner_emulator.seed import build_store, recent_reference_time
from refiner_emulator.store import ApiError, Segment
from refiner_emulator.webhooks import WebhookDispatcher

if TYPE_CHECKING:
    from starlette.requests import Request

    from refiner_emulator.config import Config
    from refiner_emulator.store import Store

log = logging.getLogger("refiner_emulator")
MAX_CALLS = 200_000  # call log cap; counters in /stats keep counting past it
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
KNOWN_PATHS = {path for _method, path in ROUTES}


class Emulator:
    """Holds the store, the options and the introspection state of one emulator process."""

    def __init__(self, config: Config) -> None:
        """Seed the data and wire the helpers from ``config``."""
        config.validate()
        self.initial_config = config
        self.config = config
        self.store = self._seed()
        self.other_store = self._seed(other=True)
        # A per-process secret: cursors are opaque and unforgeable, like real ones.
        self.pager = Pager(os.urandom(16).hex())
        self.webhooks = WebhookDispatcher()
        self.faults = FaultInjector(config.seed, config.error_rate)
        self.limiter = RateLimiter(config.per_key_per_minute, config.per_user_per_minute)
        self.calls: deque[dict[str, Any]] = deque(maxlen=MAX_CALLS)
        self.seq = 0
        self.by_status: Counter[str] = Counter()
        self.by_path: Counter[str] = Counter()
        self.rate_limited = 0
        self.apply(config)

    def _seed(self, *, other: bool = False) -> Store:
        """The project of ``api_keys``, or (``other``) the one of ``other_project_keys``."""
        c = self.initial_config
        store = build_store(
            c.seed + other,
            contacts=c.contacts,
            responses=c.responses,
            forms=c.forms,
            segments=c.segments,
            reference=recent_reference_time(timefmt.now()) if c.recent else None,
        )
        if other:
            store.project_name = "Testing"
        return store

    def apply(self, config: Config) -> None:
        """Make runtime options effective."""
        self.config = config
        self.faults.error_rate = config.error_rate
        self.limiter.per_key = config.per_key_per_minute
        self.limiter.per_user = config.per_user_per_minute
        self.webhooks.urls = list(config.webhook_urls)
        self.webhooks.secret = config.webhook_secret
        self.pager.untidy = Untidy(
            empty_pages=config.empty_pages,
            no_last_page=config.no_last_page,
            offset_cursors=config.offset_cursors,
            end_early=config.end_listings_early,
            no_items_count=config.no_items_count,
        )

    def reset(self, *, data: bool, config: bool) -> None:
        """Clear calls, counters, faults, rate windows and deliveries (optionally data/config)."""
        self.calls.clear()
        self.seq = 0
        self.by_status.clear()
        self.by_path.clear()
        self.rate_limited = 0
        self.faults.reset()
        self.limiter.reset()
        self.webhooks.reset()
        if config:
            self.apply(self.initial_config)
        if data:
            self.store = self._seed()
            self.other_store = self._seed(other=True)

    def context(self, key: str | None = None) -> Context:
        """What handlers see for one request: the project ``key`` belongs to."""
        store = self.other_store if key in self.config.other_project_keys else self.store
        return Context(store, self.config, self.pager, self.webhooks)

    # ------------------------------------------------------------------ the /v1 pipeline
    async def api(self, request: Request) -> Response:
        """Serve one Refiner API request and log it as a call."""
        started = time.monotonic()
        method = request.method
        path = request.url.path
        if path == "/v1":
            path = "/v1/"
        body = await request.body()
        parse_error = None
        try:
            params = merge_request_data(
                request.url.query, body, request.headers.get("content-type", "")
            )
        except ParamsError as exc:
            params, parse_error = {}, str(exc)
        creds = auth.extract(request.headers.get("authorization"), params)
        self.seq += 1
        call = {
            "seq": self.seq,
            "time": time.time(),
            "method": method,
            "path": path,
            "params": {k: v for k, v in params.items() if k != "api_key"},
            "auth": creds.method,
            "status": None,
        }
        self.calls.append(call)
        reply = await self._pipeline(method, path, params, creds, parse_error)
        call["status"] = reply.status_code
        self.by_status[str(reply.status_code)] += 1
        self.by_path[path] += 1
        log.info(
            "%s %s %s %.1fms", method, path, reply.status_code, (time.monotonic() - started) * 1e3
        )
        return reply

    async def _pipeline(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        creds: auth.Credentials,
        parse_error: str | None,
    ) -> Response:
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)
        rejection = self._route_rejection(method, path) or self._access_rejection(
            params, creds, parse_error
        )
        if rejection is not None:
            return rejection
        try:
            body = ROUTES[(method, path)](self.context(creds.key), params)
        except ApiError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except Exception:  # an emulator bug must still be answered and logged as a call
            log.exception("handler failed for %s %s", method, path)
            return JSONResponse({"message": "Server Error"}, status_code=500)
        return JSONResponse(body)

    def _route_rejection(self, method: str, path: str) -> Response | None:
        """Faults (decided first, like a failing proxy), then unknown routes and methods."""
        fault = self.faults.take(path)
        if fault is not None:
            if fault.status == TOO_MANY:
                self.rate_limited += 1
            return _fault_response(fault)
        alias_off = path == "/v1/track" and not self.config.track_alias
        if alias_off or path not in KNOWN_PATHS:
            return JSONResponse({"error": "Not found"}, status_code=404)
        if (method, path) not in ROUTES:
            return JSONResponse({"error": "Method not allowed"}, status_code=405)
        return None

    def _access_rejection(
        self, params: dict[str, Any], creds: auth.Credentials, parse_error: str | None
    ) -> Response | None:
        """Auth, then an undecodable body, then the rate limits (only admitted calls count)."""
        config = self.config
        known = {*config.api_keys, *config.other_project_keys}
        denied = auth.check(creds.key, known, config.unknown_key_status)
        if denied is not None:
            return JSONResponse(denied[1], status_code=denied[0])
        if parse_error is not None:
            return JSONResponse({"error": parse_error}, status_code=400)
        if config.rate_limit:
            retry_after = self.limiter.admit(creds.key or "", params)
            if retry_after is not None:
                self.rate_limited += 1
                return JSONResponse(
                    TOO_OFTEN, status_code=TOO_MANY, headers={"Retry-After": str(retry_after)}
                )
        return None

    # ------------------------------------------------------------------ private routes
    async def private_calls(self, request: Request) -> Response:
        """GET /_emulator/calls?path=…&since_seq=N (calls with seq > N)."""
        path = request.query_params.get("path")
        since = request.query_params.get("since_seq")
        try:
            since_seq = int(since) if since else 0
        except ValueError:
            return JSONResponse({"error": "since_seq must be an integer"}, status_code=400)
        calls = [
            c for c in self.calls if c["seq"] > since_seq and (path is None or c["path"] == path)
        ]
        return JSONResponse({"calls": calls})

    async def private_stats(self, _request: Request) -> Response:
        """GET /_emulator/stats."""
        return JSONResponse(
            {
                "requests": sum(self.by_status.values()),
                "by_status": dict(self.by_status),
                "rate_limited": self.rate_limited,
                "by_path": dict(self.by_path),
                "contacts": len(self.store.contacts),
                "responses": len(self.store.responses),
                "events": len(self.store.events),
                "reference_time": timefmt.iso(self.store.reference_time),
                "project_uuid": self.store.project_uuid,
            }
        )

    async def private_reset(self, request: Request) -> Response:
        """POST /_emulator/reset with optional ``{"data": true, "config": true}``."""
        options = await _json_object(request)
        if isinstance(options, Response):
            return options
        self.reset(data=bool(options.get("data")), config=bool(options.get("config")))
        return JSONResponse({"message": "ok", "config": self.config.public()})

    async def private_config(self, request: Request) -> Response:
        """GET the effective runtime options, or POST a JSON object of changes."""
        if request.method == "POST":
            changes = await _json_object(request)
            if isinstance(changes, Response):
                return changes
            try:
                self.apply(self.config.updated(changes))
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(self.config.public())

    async def private_faults(self, request: Request) -> Response:
        """POST /_emulator/faults: queue the next ``count`` matching requests to fail."""
        spec = await _json_object(request)
        if isinstance(spec, Response):
            return spec
        status, count = spec.get("status"), spec.get("count", 1)
        retry_after, path = spec.get("retry_after"), spec.get("path")
        kind, seconds = spec.get("kind", "status"), spec.get("seconds", 5)
        if kind != "status":
            status = 504  # what a timed-out or reset request would have cost, for the log
        problems = [
            kind not in FAULT_KINDS and f"kind must be one of {list(FAULT_KINDS)}",
            not isinstance(seconds, (int, float)) and "seconds must be a number",
            status not in (*FAULT_STATUSES, 504)
            and f"status must be one of {list(FAULT_STATUSES)}",
            (not isinstance(count, int) or isinstance(count, bool) or count < 1)
            and "count must be a positive integer",
            retry_after is not None
            and (not isinstance(retry_after, int) or retry_after < 0)
            and "retry_after must be a non-negative integer",
            path is not None and not isinstance(path, str) and "path must be a string",
        ]
        errors = [p for p in problems if p]
        if errors:
            return JSONResponse({"error": "; ".join(errors)}, status_code=400)
        pending = self.faults.add(
            Fault(
                int(status),  # type: ignore[arg-type]
                count,
                retry_after,
                path,
                spec.get("body"),
                kind,
                float(seconds),
            )
        )
        return JSONResponse({"message": "ok", "pending": pending})

    async def private_events(self, _request: Request) -> Response:
        """GET /_emulator/events: every tracked event, oldest first."""
        events = [
            {"seq": e.seq, "user_id": e.user_id, "email": e.email, "event": e.event, "time": e.time}
            for e in self.store.events
        ]
        return JSONResponse({"events": events})

    async def private_contact(self, request: Request) -> Response:
        """GET /_emulator/contacts/{remote_id}: the stored contact plus ``identify_count``."""
        contact = self.store.find_contact(remote_id=request.path_params["remote_id"])
        if contact is None:
            return JSONResponse({"error": "Contact not found"}, status_code=404)
        body = render.contact(self.store, contact)
        body["identify_count"] = contact.identify_count
        body["events_count"] = sum(1 for e in self.store.events if e.contact_uuid == contact.uuid)
        return JSONResponse(body)

    async def private_segments(self, request: Request) -> Response:
        """POST /_emulator/segments ``{"name": ..., "is_manual": true}``: a new, empty segment.

        What the dashboard does (the API cannot create segments); answered as listed.
        """
        spec = await _json_object(request)
        if isinstance(spec, Response):
            return spec
        name, manual = spec.get("name"), spec.get("is_manual", True)
        if not isinstance(name, str) or not name.strip() or not isinstance(manual, bool):
            return JSONResponse(
                {"error": "name must be a non-empty string and is_manual a boolean"},
                status_code=400,
            )
        segment = Segment(uuid=self.store.new_uuid(), name=name, is_manual=manual)
        self.store.segments[segment.uuid] = segment
        return JSONResponse({"uuid": segment.uuid, "name": name, "is_manual": manual})

    async def private_webhooks(self, _request: Request) -> Response:
        """GET /_emulator/webhooks: the delivery log."""
        return JSONResponse({"deliveries": self.webhooks.deliveries()})


class _HangingResponse(Response):
    """A request that hangs past the client's timeout (then a 504, if anyone still listens)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(b'{"message": "Gateway Timeout"}', 504, media_type="application/json")
        self.seconds = seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:  # noqa: ANN401
        await asyncio.sleep(self.seconds)
        await super().__call__(scope, receive, send)


class _ResetResponse(Response):
    """The connection ends mid-answer: headers promise a body that never fully arrives."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:  # noqa: ANN401, ARG002
        headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"items": [', "more_body": False})


def _fault_response(fault: FaultReply) -> Response:
    if fault.kind == "timeout":
        return _HangingResponse(fault.seconds)
    if fault.kind == "reset":
        return _ResetResponse()
    if fault.content_type == "application/json":
        return JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)
    return Response(
        str(fault.body), status_code=fault.status, headers=fault.headers, media_type="text/html"
    )


async def _json_object(request: Request) -> dict[str, Any] | Response:
    body = await request.body()
    if not body.strip():
        return {}
    try:
        decoded = json.loads(body)
    except ValueError:
        return JSONResponse({"error": "body must be JSON"}, status_code=400)
    if not isinstance(decoded, dict):
        return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
    return decoded


def create_app(emulator: Emulator) -> Starlette:
    """The ASGI app: private routes first, everything else through the API pipeline."""
    routes = [
        Route("/_emulator/calls", emulator.private_calls, methods=["GET"]),
        Route("/_emulator/stats", emulator.private_stats, methods=["GET"]),
        Route("/_emulator/reset", emulator.private_reset, methods=["POST"]),
        Route("/_emulator/config", emulator.private_config, methods=["GET", "POST"]),
        Route("/_emulator/faults", emulator.private_faults, methods=["POST"]),
        Route("/_emulator/events", emulator.private_events, methods=["GET"]),
        Route("/_emulator/contacts/{remote_id:path}", emulator.private_contact, methods=["GET"]),
        Route("/_emulator/webhooks", emulator.private_webhooks, methods=["GET"]),
        Route("/_emulator/segments", emulator.private_segments, methods=["POST"]),
        Route("/{path:path}", emulator.api, methods=ALL_METHODS),
    ]
    return Starlette(routes=routes)
