"""``refiner-webhooks serve``: run the receiver until SIGINT/SIGTERM.

Every flag has an environment variable so orchestrators can configure it without a command
line; the secret in particular belongs in ``REFINER_WEBHOOK_SECRET`` rather than ``--secret``,
which other local users can read from the process list. The secret is never printed or logged.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sqlite3
import sys
from typing import TYPE_CHECKING

from refiner_http.redact import Redactor
from refiner_serving.listen import bind
from refiner_stores import StoreError, url_password
from refiner_stores.location import shown
from refiner_webhooks.stores import open_event_store

if TYPE_CHECKING:
    from collections.abc import Sequence

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
DEFAULT_STORE = ".refiner-webhooks/events.sqlite"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
ENV_PREFIX = "REFINER_WEBHOOK_"
USAGE_ERROR = 2
SERVER_STACK = ("starlette", "uvicorn")  # what the `webhooks` extra installs
MISSING_EXTRA = (
    "refiner-webhooks serve needs the webhooks extra (%s not installed): "
    "pip install 'refiner-singer[webhooks]'"
)


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


def build_parser() -> argparse.ArgumentParser:
    """The CLI; defaults come from ``REFINER_WEBHOOK_*`` variables, flags override them."""
    parser = argparse.ArgumentParser(
        prog="refiner-webhooks", description="Durable receiver for Refiner webhooks."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="accept webhooks over HTTP and store them in SQLite",
        description="Accept Refiner webhooks (POST / or /webhooks) and store each one durably "
        "before answering 200. GET /healthz checks the store.",
    )
    serve.add_argument(
        "--host",
        default=_env("HOST", DEFAULT_HOST),
        help="interface to listen on (default %(default)s) [REFINER_WEBHOOK_HOST]",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=_env("PORT", str(DEFAULT_PORT)),
        help="0 picks a free port (default %(default)s) [REFINER_WEBHOOK_PORT]",
    )
    serve.add_argument(
        "--secret",
        default=_env("SECRET", ""),
        help="token Refiner sends as 'Authorization: Bearer <token>'; without one every "
        "request is accepted. Prefer the environment: a flag shows in `ps` "
        "[REFINER_WEBHOOK_SECRET]",
    )
    serve.add_argument(
        "--store",
        default=_env("STORE", DEFAULT_STORE),
        help="SQLite file or postgresql:// URL (default %(default)s) [REFINER_WEBHOOK_STORE]",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=_env("MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES)),
        help="larger bodies get 413 (default %(default)s) [REFINER_WEBHOOK_MAX_BODY_BYTES]",
    )
    serve.add_argument(
        "--log-level",
        default=_env("LOG_LEVEL", "info"),
        choices=["debug", "info", "warning", "error"],
        help="(default %(default)s) [REFINER_WEBHOOK_LOG_LEVEL]",
    )
    serve.add_argument(
        "--access-log", action="store_true", help="log every request (off: it costs throughput)"
    )
    return parser


def configure_logging(level: str, secret: str, store: str) -> None:
    """Plain stderr logging for us and uvicorn, with the secrets masked as a last resort."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Redactor([secret, url_password(store)]).logging_filter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def serve(args: argparse.Namespace) -> int:
    """Open the store, bind, and run until a signal asks us to stop."""
    configure_logging(args.log_level, args.secret, args.store)
    log = logging.getLogger("refiner_webhooks")
    missing = [name for name in SERVER_STACK if importlib.util.find_spec(name) is None]
    if missing:
        log.error(MISSING_EXTRA, ", ".join(missing))
        return USAGE_ERROR
    if args.max_body_bytes <= 0:
        log.error("--max-body-bytes must be positive")
        return USAGE_ERROR
    try:
        store = open_event_store(args.store, setting="--store")
    except StoreError as exc:
        log.error("%s", exc)  # noqa: TRY400 - message says it all
        return USAGE_ERROR
    except (OSError, sqlite3.Error) as exc:
        log.error("Cannot open the store %s: %s", args.store, exc)  # noqa: TRY400 - message says it all
        return USAGE_ERROR
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        store.close()
        log.error("Cannot listen on %s:%s: %s", args.host, args.port, exc)  # noqa: TRY400 - message says it all
        return USAGE_ERROR
    if not args.secret:
        log.warning("No secret set: any request that reaches this port will be stored")
    log.info("Storing events in %s", shown(args.store))
    from refiner_webhooks import server  # noqa: PLC0415 - the optional `webhooks` extra, checked above

    server.run(
        store,
        sock,
        secret=args.secret or None,
        max_body_bytes=args.max_body_bytes,
        access_log=args.access_log,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return USAGE_ERROR  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
