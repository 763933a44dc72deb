"""``refiner-api``: any Refiner API call from a shell, like Make's "Make an API Call" module.

The call goes through ``RefinerClient``, so it gets the same Bearer auth, pacing, retries
(``Retry-After`` on 429, backoff on 5xx) and redaction as the tap and the target. The key comes
from ``--config`` (a Meltano-style JSON file with ``api_key``/``api_url``) or, when that has
none, from ``REFINER_API_KEY``; it is never printed.

Exit codes: 0 success, 1 the API refused or could not be reached, 2 usage or configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import requests

from refiner_http.client import DEFAULT_API_URL, RefinerClient, resolve_url
from refiner_http.errors import RefinerError
from refiner_http.policy import DEFAULT_MAX_TRIES
from refiner_http.redact import Redactor
from refiner_http.settings import (
    PACING_DIR,
    PACING_URL,
    policy_from_config,
    store_secrets,
    store_url_errors,
)
from refiner_stores import StoreError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

API_ERROR = 1
USAGE_ERROR = 2
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DEFAULT_PAGE_LENGTH = 1000

EPILOG = """\
examples:
  refiner-api GET /v1/contacts --query page_length=10
  refiner-api GET /v1/responses --query 'form_uuids[]=A' --query 'form_uuids[]=B' --paginate
  refiner-api POST /v1/identify-user --data '{"id": "user-1", "plan": "pro"}'
  refiner-api DELETE /v1/contact --query id=user-1

The key comes from --config (api_key) or REFINER_API_KEY; the API URL from --api-url, then
--config (api_url), then REFINER_API_URL, then https://api.refiner.io/v1.
"""


class UsageError(Exception):
    """Bad flags or configuration: exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="refiner-api",
        description="Call the Refiner REST API with the connectors' auth, pacing and retries.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("method", type=str.upper, choices=METHODS, metavar="METHOD")
    parser.add_argument("path", metavar="PATH", help="e.g. /v1/contacts (or contacts)")
    parser.add_argument(
        "--query",
        action="append",
        default=[],
        metavar="K=V",
        help="query parameter; repeat a key to send it several times (form_uuids[]=a)",
    )
    parser.add_argument(
        "--header", action="append", default=[], metavar="K=V", help="extra request header"
    )
    parser.add_argument(
        "--data", metavar="JSON|@FILE", help="JSON body, inline or from a file (@- for stdin)"
    )
    parser.add_argument(
        "--paginate",
        action="store_true",
        help="GET every page (following next_page_cursor) and print one item per line",
    )
    parser.add_argument("--config", metavar="FILE", help="JSON file with api_key and api_url")
    parser.add_argument("--api-url", metavar="URL", help=f"default {DEFAULT_API_URL}")
    parser.add_argument(
        "--max-tries",
        type=int,
        default=DEFAULT_MAX_TRIES,
        help="attempts per call for 429, 5xx and network errors",
    )
    return parser


def parse_pairs(pairs: Iterable[str], flag: str) -> list[tuple[str, str]]:
    """``k=v`` strings as pairs, in order (a value may itself contain ``=``)."""
    result = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            msg = f"{flag} expects K=V, got {pair!r}"
            raise UsageError(msg)
        result.append((key, value))
    return result


def query_params(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Group values by key, keeping order: requests sends a list as repeated parameters."""
    params: dict[str, list[str]] = {}
    for key, value in pairs:
        params.setdefault(key, []).append(value)
    return params


def read_data(data: str | None) -> Any:  # noqa: ANN401 - any JSON value
    """The ``--data`` JSON: inline, ``@file`` or ``@-`` (stdin)."""
    if data is None:
        return None
    if data.startswith("@"):
        source = data[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            msg = f"--data: cannot read {source}: {exc.strerror}"
            raise UsageError(msg) from exc
    else:
        text = data
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"--data is not valid JSON: {exc}"
        raise UsageError(msg) from exc


def load_config(path: str | None) -> dict[str, Any]:
    """The ``--config`` file as a dict (empty without one)."""
    if path is None:
        return {}
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        msg = f"--config: cannot read {path}: {exc.strerror}"
        raise UsageError(msg) from exc
    except json.JSONDecodeError as exc:
        msg = f"--config: {path} is not valid JSON: {exc}"
        raise UsageError(msg) from exc
    if not isinstance(config, dict):
        msg = f"--config: {path} must hold a JSON object"
        raise UsageError(msg)
    return config


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """The connection settings; explicit sources (flags, the config file) beat the environment.

    The same names as the plugins' settings, so the same config file works, and the call books
    its pacing slot in the schedule the tap and target share for this key (``pacing_dir``, or
    ``pacing_url`` across machines).
    """
    config = load_config(args.config)
    api_key = config.get("api_key") or os.environ.get("REFINER_API_KEY")
    if not api_key:
        msg = "no API key: set REFINER_API_KEY or pass --config FILE with an api_key"
        raise UsageError(msg)
    api_url = (
        args.api_url
        or config.get("api_url")
        or os.environ.get("REFINER_API_URL")
        or DEFAULT_API_URL
    )
    return {
        **{k: v for k, v in config.items() if k in {PACING_DIR.name, PACING_URL.name}},
        "api_key": str(api_key),
        "api_url": str(api_url),
        "max_tries": max(args.max_tries, 1),
    }


def _print_json(value: Any, *, indent: int | None) -> None:  # noqa: ANN401 - any JSON value
    sys.stdout.write(json.dumps(value, indent=indent, ensure_ascii=False) + "\n")


def call(client: RefinerClient, args: argparse.Namespace) -> None:
    """Make the call (or every page of it) and print the result."""
    params = query_params(parse_pairs(args.query, "--query"))
    headers = dict(parse_pairs(args.header, "--header"))
    if any(name.lower() == "authorization" for name in headers):
        msg = "--header Authorization is not allowed: the API key is sent for you"
        raise UsageError(msg)
    body = read_data(args.data)
    if args.paginate:
        if args.method != "GET" or body is not None:
            msg = "--paginate works with GET and no --data"
            raise UsageError(msg)
        lengths = params.pop("page_length", [str(DEFAULT_PAGE_LENGTH)])
        try:
            page_length = int(lengths[-1])
        except ValueError as exc:
            msg = f"page_length must be a number, got {lengths[-1]!r}"
            raise UsageError(msg) from exc
        for item in client.paginate(args.path, params, page_length=page_length):
            _print_json(item, indent=None)
        return
    response = client.send(
        args.method, args.path, params=params or None, json_body=body, headers=headers or None
    )
    with response:
        if not response.content:
            return
        try:
            _print_json(response.json(), indent=2)
        except ValueError:
            sys.stdout.write(response.text + "\n")


def _fail(redact: Redactor, message: str, code: int) -> NoReturn:
    sys.stderr.write(f"refiner-api: {redact(message)}\n")
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point."""
    args = build_parser().parse_args(argv)
    redact = Redactor()
    try:
        config = settings(args)
    except UsageError as exc:
        _fail(redact, str(exc), USAGE_ERROR)
    api_url = config["api_url"]
    for secret in store_secrets(config):
        redact.add(secret)
    for problem in store_url_errors(config, (PACING_URL,)):
        _fail(redact, problem, USAGE_ERROR)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(redact.logging_filter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    try:
        policy = policy_from_config(config, log=logging.getLogger("refiner-api"), redactor=redact)
    except StoreError as exc:
        _fail(redact, str(exc), USAGE_ERROR)
    try:
        with RefinerClient(config["api_key"], api_url, policy=policy) as client:
            call(client, args)
    except UsageError as exc:
        _fail(redact, str(exc), USAGE_ERROR)
    except RefinerError as exc:
        _fail(redact, str(exc), API_ERROR)
    except requests.RequestException as exc:
        url = resolve_url(api_url, args.path)
        _fail(redact, f"{args.method} {url} failed: {exc}", API_ERROR)
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: stop quietly, as Unix tools do, and keep
        # Python's exit-time flush from failing on the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
