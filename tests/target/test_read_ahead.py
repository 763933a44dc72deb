"""The target reads only as far ahead of the calls as keeps its workers busy (issue 18).

Rows read and not yet sent are memory (~3 KB each): when the workers are the slower side (the
API's pace, a loaded CPU), reading up to ``max_pending`` (10,000) rows ahead made a first run
of 40k users peak 30 MB above one of 5k.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import TYPE_CHECKING

from target_refiner import sender as sender_module
from target_refiner.target import TargetRefiner

if TYPE_CHECKING:
    from collections.abc import Iterator

ROWS = 300
BATCH = 20
WORKERS = 2
SLOW = {
    "max_concurrency": WORKERS,
    "max_requests_per_minute": 1_000_000,
    "max_requests_per_user_per_minute": 1_000_000,
}


def test_input_waits_for_the_workers_instead_of_running_max_pending_rows_ahead(
    emu, config, monkeypatch
):
    monkeypatch.setattr(sender_module, "LOOKUP_BATCH", BATCH)
    monkeypatch.setattr(sender_module, "READY_AHEAD", 2 * BATCH)
    emu.configure(latency_ms=20)  # two workers: ~100 calls/s, far slower than reading
    leads: list[int] = []

    def lines() -> Iterator[str]:
        schema = {"type": "SCHEMA", "stream": "users", "key_properties": ["id"]}
        yield json.dumps({**schema, "schema": {"properties": {"id": {"type": "string"}}}})
        for i in range(ROWS):
            if i % 10 == 0:  # rows handed to the target so far, less the calls Refiner got
                leads.append(i - len(emu.calls(path="/v1/identify-user")))
            yield json.dumps({"type": "RECORD", "stream": "users", "record": {"id": f"r{i}"}})
        yield json.dumps({"type": "STATE", "value": {"users": ROWS}})

    out = io.StringIO()
    target = TargetRefiner(config={**config, **SLOW})
    with contextlib.redirect_stdout(out):
        try:
            target.listen(lines())  # type: ignore[arg-type] - the reader iterates its input
        finally:
            target.runtime.close()

    assert len(emu.calls(path="/v1/identify-user")) == ROWS
    assert json.loads(out.getvalue().splitlines()[-1]) == {"users": ROWS}
    # waiting for a worker or in the batch being filled, plus one call per worker on its way
    bound = 2 * BATCH + WORKERS + 1
    assert max(leads) <= bound, leads
    assert max(leads) >= BATCH, leads  # the workers were the slower side: the bound was reached
