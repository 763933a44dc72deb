"""A receiver killed with SIGKILL mid-burst keeps every event it answered 200 to."""

import signal
import threading
import time
from dataclasses import dataclass, field

import requests

from refiner_webhooks.testing import ReceiverProcess, sample_event

THREADS = 8
PER_THREAD = 5000  # upper bound; the kill ends the burst long before
KILL_AFTER_ACKS = 400


@dataclass
class Burst:
    """What the client threads share: where to post, and what they saw."""

    url: str
    secret: str
    acked: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def post_from(self, worker):
        headers = {"Authorization": f"Bearer {self.secret}"}
        with requests.Session() as session:
            for n in range(worker * PER_THREAD, (worker + 1) * PER_THREAD):
                if self.stop.is_set():
                    return
                try:
                    with session.post(
                        self.url, json=sample_event(n), headers=headers, timeout=5
                    ) as reply:
                        if reply.status_code == 200:
                            self.acked.append(f"response-{n}")
                except requests.RequestException:
                    self.errors.append(n)
                    return


def test_sigkill_mid_burst_loses_no_acknowledged_event(store_path, secret, rows):
    receiver = ReceiverProcess(store_path, secret=secret).start()
    burst = Burst(receiver.url + "webhooks", secret)
    acked, errors = burst.acked, burst.errors
    try:
        threads = [threading.Thread(target=burst.post_from, args=(w,)) for w in range(THREADS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < KILL_AFTER_ACKS and time.monotonic() < deadline:
            time.sleep(0.005)
        code = receiver.kill()
    finally:
        burst.stop.set()
        receiver.kill()
    for t in threads:
        t.join(timeout=30)
    assert code == -signal.SIGKILL
    assert len(acked) >= KILL_AFTER_ACKS
    assert errors, "the kill should have interrupted requests in flight"

    # Restart on the same store (SQLite recovers the WAL), then check every acknowledged event.
    with (
        ReceiverProcess(store_path, secret=secret) as again,
        requests.get(again.url + "healthz", timeout=5) as reply,
    ):
        assert reply.status_code == 200
        events = reply.json()["events"]
    stored = {r["response_uuid"] for r in rows(store_path)}
    assert set(acked) <= stored
    assert events == len(stored) >= len(acked)
