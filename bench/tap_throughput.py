"""Tap throughput vs a bare requests+json loop over the same pages, in one run.

    .venv/bin/python bench/tap_throughput.py --contacts 100000

Starts an emulator with N contacts, then (in this order, each ``--repeat`` times, best kept):

* bare:  requests.Session GETs every /contacts page (cursor paging, page_length 1000) and
         decodes the JSON - the floor any extractor pays;
* tap:   TapRefiner's ``contacts`` stream in-process, every Singer message written to a null
         sink (RECORD lines are counted and one in 1000 is checked against the schema).

Prints records/s of each and the ratio tap/bare (target >= 0.6). ``--sdk-defaults`` also
measures the tap with the SDK's default record path (recursive conformance, deselection walk,
simplejson writer) for comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import time
from typing import TYPE_CHECKING, TypeVar

import jsonschema
import requests
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib.encoding import SimpleSingerWriter

from refiner_emulator.testing import EmulatorProcess
from tap_refiner import schemas
from tap_refiner.client import RefinerStream
from tap_refiner.tap import TapRefiner

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")


class DefaultsTap(TapRefiner):
    """The same tap with the SDK's default JSON writer (for ``--sdk-defaults``)."""

    message_writer_class = SimpleSingerWriter


class NullSink(io.TextIOBase):
    """A stdout stand-in that drops text and bytes but counts RECORD lines."""

    def __init__(self, sample_every: int = 1000) -> None:
        self.lines = 0
        self.records = 0
        self.samples: list[dict] = []
        self.sample_every = sample_every
        self.buffer = self  # the msgspec writer writes bytes to sys.stdout.buffer

    def writable(self) -> bool:
        return True

    def write(self, data: str | bytes | bytearray) -> int:  # type: ignore[override]
        text = data if isinstance(data, str) else bytes(data).decode()
        self.lines += text.count("\n")
        if text.startswith(('{"type":"RECORD"', '{"type": "RECORD"')):
            self.records += 1
            if self.records % self.sample_every == 1:
                self.samples.append(json.loads(text))
        return len(data)

    def flush(self) -> None:
        pass


def bare(api_url: str, api_key: str, page_length: int) -> int:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {api_key}"
    params: dict = {"page_length": page_length}
    count = 0
    while True:
        body = session.get(f"{api_url}/contacts", params=params, timeout=60).json()
        count += len(body["items"])
        cursor = body["pagination"]["next_page_cursor"]
        if not cursor:
            return count
        params = {"page_length": page_length, "page_cursor": cursor}


def tap(api_url: str, api_key: str, page_length: int, tap_class: type = TapRefiner) -> NullSink:
    config = {"api_key": api_key, "api_url": api_url, "page_length": page_length}
    instance = tap_class(config=config)
    for name, stream in instance.streams.items():
        stream.selected = name == "contacts"
    sink = NullSink()
    with contextlib.redirect_stdout(sink):
        instance.sync_all()
    return sink


def timed(func: Callable[..., T], *args: object) -> tuple[T, float]:
    start = time.perf_counter()
    result = func(*args)
    return result, time.perf_counter() - start


def check(condition: bool, message: str) -> None:  # noqa: FBT001
    if not condition:
        raise SystemExit(message)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--page-length", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sdk-defaults", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # keep the SDK's per-request metric lines out of the timing

    seeding = time.perf_counter()
    with EmulatorProcess(
        "--contacts", str(args.contacts), "--responses", "0", "--seed", "1", timeout=600
    ) as emu:
        print(
            f"emulator with {args.contacts} contacts ready in {time.perf_counter() - seeding:.1f}s"
        )
        bare_best = tap_best = float("inf")
        sink = None
        for _ in range(args.repeat):
            count, seconds = timed(bare, emu.api_url, emu.api_key, args.page_length)
            check(count == args.contacts, f"bare read {count} contacts")
            bare_best = min(bare_best, seconds)
            sink, seconds = timed(tap, emu.api_url, emu.api_key, args.page_length)
            check(sink.records == args.contacts, f"tap wrote {sink.records} records")
            tap_best = min(tap_best, seconds)
        check(sink is not None, "no tap run")
        if args.sdk_defaults:
            defaults_best = float("inf")
            original = RefinerStream.TYPE_CONFORMANCE_LEVEL
            RefinerStream.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE
            try:
                for _ in range(args.repeat):
                    _, seconds = timed(tap, emu.api_url, emu.api_key, args.page_length, DefaultsTap)
                    defaults_best = min(defaults_best, seconds)
            finally:
                RefinerStream.TYPE_CONFORMANCE_LEVEL = original
        validator = jsonschema.Draft7Validator(schemas.CONTACTS)
        for message in sink.samples:
            validator.validate(message["record"])
    bare_rate = args.contacts / bare_best
    tap_rate = args.contacts / tap_best
    print(f"bare requests+json : {bare_rate:10.0f} records/s ({bare_best:.2f}s)")
    print(f"tap-refiner        : {tap_rate:10.0f} records/s ({tap_best:.2f}s)")
    print(f"ratio tap/bare     : {tap_rate / bare_rate:10.2f}  (target >= 0.6)")
    if args.sdk_defaults:
        defaults_rate = args.contacts / defaults_best
        print(f"tap, SDK defaults  : {defaults_rate:10.0f} records/s ({defaults_best:.2f}s)")
        print(f"ratio defaults/bare: {defaults_rate / bare_rate:10.2f}")


if __name__ == "__main__":
    main()
