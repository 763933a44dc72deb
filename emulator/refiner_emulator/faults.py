"""Injected trouble: per-request latency, random 5xx at a seeded rate, and a queue of faults.

Faults are decided before authentication and routing, so a faulted request has no side
effects, exactly like a request that died in a proxy or an overloaded server.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

TOO_MANY, SERVER_ERROR, BAD_GATEWAY, UNAVAILABLE = 429, 500, 502, 503
FAULT_STATUSES = (TOO_MANY, SERVER_ERROR, BAD_GATEWAY, UNAVAILABLE)
RANDOM_STATUSES = (SERVER_ERROR, BAD_GATEWAY, UNAVAILABLE)
TOO_OFTEN = {"error": "You are doing this too often."}
#: "status": answer ``status``; "timeout": hang ``seconds`` (past the client's timeout);
#: "reset": close the connection mid-answer. Neither of the last two has side effects.
FAULT_KINDS = ("status", "timeout", "reset")


@dataclass(slots=True)
class Fault:
    """One queued failure; ``remaining`` counts down as matching requests arrive."""

    status: int
    remaining: int
    retry_after: int | None = None
    path: str | None = None
    body: Any = None
    kind: str = "status"
    seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class FaultReply:
    """What to answer instead of running the route."""

    status: int
    body: Any
    content_type: str
    headers: dict[str, str]
    kind: str = "status"
    seconds: float = 0.0


def default_reply(status: int, body: Any = None, retry_after: int | None = None) -> FaultReply:  # noqa: ANN401
    """Bodies as the stack behind Refiner would send them (502 comes from a proxy, as HTML)."""
    headers: dict[str, str] = {}
    if status == TOO_MANY:
        headers["Retry-After"] = str(max(1, retry_after if retry_after is not None else 1))
    if body is not None:
        return FaultReply(status, body, "application/json", headers)
    if status == TOO_MANY:
        return FaultReply(status, TOO_OFTEN, "application/json", headers)
    if status == BAD_GATEWAY:
        html = (
            "<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>"
        )
        return FaultReply(status, html, "text/html", headers)
    if status == UNAVAILABLE:
        return FaultReply(status, {"message": "Service Unavailable"}, "application/json", headers)
    return FaultReply(status, {"message": "Server Error"}, "application/json", headers)


class FaultInjector:
    """Holds the fault queue and the seeded generator for random errors."""

    def __init__(self, seed: int, error_rate: float = 0.0) -> None:
        """Random errors are reproducible for one seed and one request sequence."""
        self.error_rate = error_rate
        self._seed = seed
        self._rng = random.Random(seed ^ 0x5EED)  # noqa: S311 - reproducible, not security
        self.queue: list[Fault] = []

    def reset(self) -> None:
        """Drop queued faults and restart the random sequence."""
        self.queue.clear()
        self._rng = random.Random(self._seed ^ 0x5EED)  # noqa: S311 - reproducible

    def add(self, fault: Fault) -> int:
        """Queue a fault; returns how many faulted requests are pending in total."""
        self.queue.append(fault)
        return sum(f.remaining for f in self.queue)

    def take(self, path: str) -> FaultReply | None:
        """The fault for this request, if any: queued faults first, then the random rate."""
        for fault in self.queue:
            if fault.path is None or path.startswith(fault.path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.queue.remove(fault)
                reply = default_reply(fault.status, fault.body, fault.retry_after)
                return replace(reply, kind=fault.kind, seconds=fault.seconds)
        if self.error_rate > 0 and self._rng.random() < self.error_rate:
            return default_reply(self._rng.choice(RANDOM_STATUSES))
        return None
