"""``refiner-emulator`` CLI: seed the data, bind, serve with uvicorn, announce the URL.

The single stdout line ``Refiner emulator listening on http://HOST:PORT/v1`` is printed once
the server accepts connections; everything else (including per-request logs, which never
contain API keys) goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import uvicorn

from refiner_emulator.app import Emulator, create_app
from refiner_emulator.config import Config
from refiner_serving.listen import LISTEN_BACKLOG, bind
from refiner_serving.server import AnnouncingServer

READY_LINE = "Refiner emulator listening on {url}v1"

log = logging.getLogger("refiner_emulator")


def build_parser() -> argparse.ArgumentParser:
    """All CLI options; defaults mirror the real API's documented behaviour."""
    p = argparse.ArgumentParser(prog="refiner-emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8089, help="0 picks a free port")
    p.add_argument("--api-key", action="append", dest="api_keys", help="accepted key (repeatable)")
    p.add_argument(
        "--other-project-key",
        action="append",
        dest="other_project_keys",
        default=[],
        help="a key of a second project with data of its own (repeatable)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--contacts", type=int, default=200)
    p.add_argument("--responses", type=int, default=500)
    p.add_argument("--forms", type=int, default=6)
    p.add_argument("--segments", type=int, default=5)
    p.add_argument(
        "--recent", action="store_true", help="seeded data ends an hour ago (not in mid-2026)"
    )
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--error-rate", type=float, default=0.0, help="share of random 500/502/503")
    p.add_argument("--rate-limit", action="store_true", help="enforce the per-minute limits")
    p.add_argument("--per-key-per-minute", type=int, default=4000)
    p.add_argument("--per-user-per-minute", type=int, default=100)
    p.add_argument("--timestamp-format", choices=["iso", "plain"], default="iso")
    p.add_argument("--unknown-key-status", type=int, choices=[404, 400], default=404)
    p.add_argument("--track-alias", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--page-length-default", type=int, choices=[100, 50], default=100)
    p.add_argument("--webhook-url", action="append", dest="webhook_urls", default=[])
    p.add_argument("--webhook-secret", default=None)
    p.add_argument("--event-completed", default="Completed Survey")
    p.add_argument("--event-segment", default="User Entered Segment")
    p.add_argument("--event-tag", default="Tag Added")
    _add_untidy_variants(p.add_argument_group("untidy variants (refiner-api.md §2, §6)"))
    p.add_argument("--quiet", action="store_true", help="do not log each request to stderr")
    return p


def _add_untidy_variants(untidy: argparse._ArgumentGroup) -> None:
    """The switches for what the documentation leaves open; each off by default."""
    untidy.add_argument("--empty-pages", action="store_true", help="empty pages carrying a cursor")
    untidy.add_argument("--no-last-page", action="store_true", help="no pagination.last_page")
    untidy.add_argument("--offset-cursors", action="store_true", help="cursors shift on inserts")
    untidy.add_argument(
        "--end-listings-early",
        type=int,
        default=0,
        metavar="N",
        help="end every listing after N items (a 200 with no cursor) while items_count says more",
    )
    untidy.add_argument("--no-items-count", action="store_true", help="no pagination.items_count")
    untidy.add_argument(
        "--reporting-end-inclusive", action="store_true", help="/reporting includes the end date"
    )
    untidy.add_argument(
        "--key-check-without-project",
        action="store_true",
        help="GET /v1/ answers without project_uuid (§1.1 has one source)",
    )


def config_from_args(args: argparse.Namespace) -> Config:
    """Translate parsed options into a validated Config."""
    config = Config(
        api_keys=args.api_keys or ["demo-key"],
        other_project_keys=list(args.other_project_keys),
        seed=args.seed,
        contacts=args.contacts,
        responses=args.responses,
        forms=args.forms,
        segments=args.segments,
        recent=args.recent,
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        rate_limit=args.rate_limit,
        per_key_per_minute=args.per_key_per_minute,
        per_user_per_minute=args.per_user_per_minute,
        timestamp_format=args.timestamp_format,
        unknown_key_status=args.unknown_key_status,
        track_alias=args.track_alias,
        page_length_default=args.page_length_default,
        webhook_urls=list(args.webhook_urls),
        webhook_secret=args.webhook_secret,
        event_completed=args.event_completed,
        event_segment=args.event_segment,
        event_tag=args.event_tag,
        empty_pages=args.empty_pages,
        no_last_page=args.no_last_page,
        offset_cursors=args.offset_cursors,
        end_listings_early=args.end_listings_early,
        no_items_count=args.no_items_count,
        reporting_end_inclusive=args.reporting_end_inclusive,
        key_check_without_project=args.key_check_without_project,
    )
    config.validate()
    return config


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        config = config_from_args(args)
    except ValueError as exc:
        build_parser().error(str(exc))
    started = time.perf_counter()
    emulator = Emulator(config)
    sys.stderr.write(
        f"seeded {len(emulator.store.contacts)} contacts, {len(emulator.store.responses)} "
        f"responses in {time.perf_counter() - started:.2f}s\n"
    )
    sock = bind(args.host, args.port)
    uv_config = uvicorn.Config(
        create_app(emulator),
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        backlog=LISTEN_BACKLOG,
    )
    try:
        with sock:
            AnnouncingServer(uv_config, sock, READY_LINE).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
