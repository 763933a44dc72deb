"""``ReceiverProcess``: ``refiner-webhooks serve`` in a subprocess, for tests and benchmarks.

A real process (not an in-process app) so tests exercise the CLI, the ready line, signals and
durability across ``SIGKILL`` exactly as an orchestrator would. The secret travels in the
environment, never on the command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from refiner_serving.process import ServerProcess
from refiner_stores.location import is_postgres

READY_PREFIX = "Refiner webhook receiver listening on "
START_TIMEOUT = 20.0


class ReceiverProcess(ServerProcess):
    """Start on enter, stop (SIGTERM) on exit; ``url`` is ``http://127.0.0.1:PORT/``."""

    def __init__(
        self,
        store: str | Path,
        *extra_args: str,
        secret: str | None = None,
        log_path: str | Path | None = None,
    ) -> None:
        """Remember how to start; ``log_path`` receives stderr (default: next to the store)."""
        self.store: str | Path = store if is_postgres(str(store)) else Path(store)
        self.secret = secret
        env = {k: v for k, v in os.environ.items() if not k.startswith("REFINER_WEBHOOK_")}
        if secret is not None:
            env["REFINER_WEBHOOK_SECRET"] = secret
        # A URL (it may hold a password) goes in the environment, where `ps` cannot show it.
        env["REFINER_WEBHOOK_STORE"] = str(self.store)
        if log_path is None and isinstance(self.store, str):
            msg = "a PostgreSQL store needs a log_path"
            raise ValueError(msg)
        super().__init__(
            "refiner_webhooks",
            ["serve", "--port", "0", *extra_args],
            ready_prefix=READY_PREFIX,
            env=env,
            log_path=log_path or Path(self.store).with_suffix(".log"),
            timeout=START_TIMEOUT,
        )


def sample_event(n: int, event: str = "Completed Survey", **extra: object) -> dict[str, Any]:
    """A webhook body shaped like Refiner's captured ones (§5), unique per ``n``."""
    body: dict[str, Any] = {
        "uuid": f"contact-{n}",
        "remote_id": f"user-{n}",
        "email": f"user{n}@example.com",
        "display_name": f"User {n}",
        "project_uuid": "project-1",
        "first_seen_at": "2026-01-01T00:00:00.000000Z",
        "last_seen_at": "2026-01-02T00:00:00.000000Z",
        "attributes": {"plan": "pro", "age": None},
        "segments": [
            {"uuid": "seg-all", "name": "All", "created_at": "2026-01-01T00:00:00.000000Z"}
        ],
        "account": None,
        "triggered_event": event,
        "form": {"uuid": "form-1", "name": "NPS"},
        "response": {
            "uuid": f"response-{n}",
            "completed_at": "2026-01-02T00:00:00.000000Z",
            "last_data_reception_at": "2026-01-02T00:00:00.000000Z",
            "data": {"nps": n % 11},
            "tags": [],
        },
    }
    body.update(extra)
    return body
