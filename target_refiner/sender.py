"""Concurrent, paced sending with ordered acknowledgement (what makes STATE safe to emit).

Threads and their jobs:

- the main (SDK) thread maps a row and calls :meth:`Sender.submit`, which numbers it and adds it
  to a batch. A batch (``LOOKUP_BATCH`` rows, or whatever waited ``LOOKUP_DELAY``: then the
  *batcher* thread takes it) gets its people and ledger entries from the ledger in a few queries,
  never the whole ledger, so memory does not grow with the account. Reading waits while the
  workers have ``READY_AHEAD`` rows to go (rows in flight are memory). Then, row by row in order: a
  person with nothing in flight is checked against the ledger right there (an unchanged identify
  is acknowledged at once, which is what makes a re-sync fast); otherwise the call joins that
  person's FIFO queue;
- workers send calls through the shared ``refiner_http`` policy (per-key and per-user pacing,
  ``Retry-After``, retries, error classification); there are as many as the observed latency
  needs to reach the key's rate, up to ``max_concurrency`` (``concurrency.py``);
- a person's call books that person's pacing slot when it is dispatched (``KeyedPacer.reserve``,
  from the person's schedule, so waiting for a worker or for the key's slot is not added to the
  person's pace), and a scheduler parks it until then, so one busy person never occupies a
  worker while it waits: the other people's rows keep flowing (no head-of-line blocking). A
  person's next call goes to the workers before any person's first (a priority queue), so a
  busy person keeps their slots however many others are queued;
- one committer writes acknowledged calls to the ledger in batched transactions, writes API
  rejections to the dead-letter file, and only *then* acknowledges the rows.

Calls of one user run one at a time, in input order, each after the previous one's ledger write
is committed: Refiner ends up with the last identify, and the ledger check before each call sees
the previous call's result.

Each row is numbered by the ``AckTracker`` (``state.py``) when it is handed over and closed once
acknowledged, which is what releases a STATE waiting for it.

Calls are queued per *person* (``people.py``), not per identifier, so rows naming one contact by
id and by email keep their order, and the ledger keeps one set of entries for them.

Failures: a 4xx about the row's data dead-letters the row; an auth error, an answer about the
endpoint (``RefinerEndpointError``: wrong ``api_url``, a proxy, 403/405, a body that is not JSON),
or a 5xx/timeout still failing after ``max_tries`` stops the run (the row stays unacknowledged,
so the last STATE emitted is before it and a rerun retries it; nothing is written to the ledger).
``DELETE /contact`` answered 404 counts as done only when Refiner says the contact does not exist;
so does a mirror_segment removal (a contact that is gone is in no segment).

A call with ``trust_ledger`` False (mirror_segment, which has just read Refiner's members) is
sent whatever the ledger remembers; its ``tally`` hears what became of it.

:meth:`Sender.interrupt` (SIGTERM) lets the calls in flight finish and be committed, and drops
the queued ones unacknowledged, so the STATE emitted last is exactly the safe one.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import queue
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from refiner_http import RefinerApiError, RefinerAuthError, RefinerEndpointError
from refiner_http.policy import RETRYABLE_EXCEPTIONS
from target_refiner.concurrency import Concurrency
from target_refiner.errors import RunStoppedError
from target_refiner.ledger.keys import LedgerWrite, verdict
from target_refiner.mapping_settings import DELETE_CONTACT, MIRROR_SEGMENT

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Collection

    from refiner_http import RefinerClient
    from target_refiner.deadletter import DeadLetter, JsonLines
    from target_refiner.ledger.keys import LedgerKey, LedgerStore
    from target_refiner.mapping import ApiCall
    from target_refiner.people import People, Resolution
    from target_refiner.progress import Progress
    from target_refiner.state import AckTracker
    from target_refiner.sync_log.recorder import SyncLogNotes

COMMIT_BATCH = 1000
LOOKUP_BATCH = 1000  # rows whose people and ledger entries are looked up together
LOOKUP_DELAY = 0.25  # seconds a row waits for its batch to fill (input that trickles in)
#: Rows handed to the workers and not taken yet, plus rows of the batch being filled: a batch
#: waits for the workers while the next one is looked up, and no more is read ahead.
READY_AHEAD = 2 * LOOKUP_BATCH
PARK_THRESHOLD = 0.002  # shorter pacing waits are slept in the worker
DEFAULT_MAX_PENDING = 10_000


class SenderFailedError(RunStoppedError):
    """The run cannot go on (bad key, or Refiner kept failing after every retry)."""


def person_ledger_key(call: ApiCall, person: str) -> LedgerKey | None:
    """The call's ledger key under the person key (None: the call is not remembered)."""
    key = call.ledger_key
    return None if key is None else key.under_person(person)


@dataclass
class Row:
    """A submitted row, numbered, waiting for its batch's lookups."""

    seq: int
    stream: str
    record: dict[str, Any]
    call: ApiCall
    #: The person and ledger key the batch's lookups expect (before its own rows' links).
    guess: str = ""
    key: LedgerKey | None = None


@dataclass
class Job:
    """One row's call on its way through the sender."""

    seq: int
    stream: str
    record: dict[str, Any]
    call: ApiCall
    person: str
    ledger_key: LedgerKey | None
    links: tuple[tuple[str, str], ...] = ()
    check: bool = False  # re-check the ledger just before sending
    booked: bool = False  # the person's pacing slot for the first attempt is booked


@dataclass
class Outcome:
    """What happened to a job: sent, skipped, or rejected by the API."""

    job: Job
    kind: str  # "sent" | "skipped" | "replayed" | "rejected"
    status: int | None = None
    body: Any = None
    reason: str = ""


class Sender:
    """Sends calls on the shared policy; acknowledges rows in a way STATE can rely on."""

    def __init__(  # noqa: PLR0913 - collaborators and the documented knobs
        self,
        client: RefinerClient,
        ledger: LedgerStore,
        dead_letter: DeadLetter,
        progress: Progress,
        tracker: AckTracker,
        *,
        people: People,
        sync_log: SyncLogNotes,
        max_concurrency: int,
        full_resend: bool = False,
        max_pending: int = DEFAULT_MAX_PENDING,
        log: logging.Logger,
    ) -> None:
        """Start the workers, the scheduler and the committer."""
        self.client, self.ledger, self.people = client, ledger, people
        self.dead_letter, self.progress, self.tracker = dead_letter, progress, tracker
        self.sync_log, self.full_resend = sync_log, full_resend
        self.max_pending = max(max_pending, 1)
        self.log = log
        self.fatal: BaseException | None = None
        self._stop = threading.Event()
        self._halt = threading.Event()  # interrupted: run nothing new
        self._active = 0  # jobs a worker is running
        self._idle = threading.Condition()
        self._lock = threading.Lock()
        self._busy: dict[str, collections.deque[Job]] = {}
        #: (priority, tie, job): a person's next call (0) goes before a person's first (1).
        self._ready: queue.PriorityQueue[tuple[int, int, Job | None]] = queue.PriorityQueue()
        self._handed = 0  # jobs in ``_ready`` (not the stop markers)
        self._taken = threading.Condition()  # a worker took a job: room to read ahead
        self._commits: queue.Queue[Outcome | threading.Event | None] = queue.Queue()
        self._parked: list[tuple[float, int, Job]] = []
        self._parked_cond = threading.Condition()
        self._tie = itertools.count()
        self._concurrency = Concurrency(
            cap=max_concurrency, calls_per_second=1.0 / client.policy.key_pacer.interval
        )
        self._workers: list[threading.Thread] = []
        self._rows: list[Row] = []  # submitted, not looked up yet
        self._batch_due = 0.0
        self._batch_cond = threading.Condition(threading.RLock())
        self._batcher = _started(self._batch_timer, "batcher")
        self._scheduler = _started(self._schedule, "scheduler")
        self._committer = _started(self._commit_loop, "committer")
        self._grow(self._concurrency.start)

    # -- main thread ----------------------------------------------------------------------
    def submit(self, stream: str, record: dict[str, Any], call: ApiCall) -> None:
        """Queue one row's call; its ledger lookups are made with its batch's (see ``_run_batch``).

        The row is numbered at once, so a STATE that follows waits for it. Reading waits while
        the workers have ``READY_AHEAD`` rows to go (see ``_wait_for_workers``).
        """
        self._wait_for_workers()
        self.raise_if_failed()
        with self._batch_cond:
            self._rows.append(Row(self.tracker.open(), stream, record, call))
            if len(self._rows) == 1:
                self._batch_due = time.monotonic() + LOOKUP_DELAY
                self._batch_cond.notify()
            if len(self._rows) >= LOOKUP_BATCH or self.tracker.outstanding >= self.max_pending:
                self._run_batch()
        if self.tracker.outstanding >= self.max_pending:
            self.tracker.wait_below(self.max_pending, self._stop)
            self.raise_if_failed()

    def _wait_for_workers(self) -> None:
        """Hold the input while the workers have ``READY_AHEAD`` rows waiting for them.

        Without it the input ran ``max_pending`` rows ahead whenever the workers were the slower
        side (the API's pace, or the CPU): ~3 KB each, 30 MB more than the rows being sent need.
        ``max_pending`` still bounds the rows queued behind their person's call.
        """
        with self._taken:
            self._taken.wait_for(
                lambda: self._handed + len(self._rows) < READY_AHEAD or self._stop.is_set()
            )

    def flush(self, interrupted: Callable[[], bool] | None = None) -> bool:
        """Wait until every submitted row is acknowledged; raise if the run failed.

        With ``interrupted``, stop waiting (and return False) once it says so.
        """
        with self._batch_cond:
            self._run_batch()
        timeout = None if interrupted is None else 0.2
        while not self.tracker.wait_below(1, self._stop, timeout=timeout):
            if interrupted is not None and interrupted():
                return False
        self.raise_if_failed()
        return True

    def raise_if_failed(self) -> None:
        """Re-raise a fatal error from a worker in the caller's thread."""
        if self.fatal is not None:
            raise SenderFailedError(str(self.fatal)) from self.fatal

    def interrupt(self) -> None:
        """Finish the calls in flight and commit them; leave every queued row unacknowledged."""
        self._halt.set()
        with self._batch_cond:
            self._rows.clear()  # numbered but never looked at: they stay unacknowledged
        with self._parked_cond:
            self._parked.clear()
            self._parked_cond.notify_all()
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0)
        barrier = threading.Event()
        self._commits.put(barrier)
        while not barrier.wait(timeout=0.5) and self._committer.is_alive():
            pass

    def close(self) -> None:
        """Stop every thread (after ``flush``, or on failure)."""
        with self._lock:
            self._stop.set()  # under the lock: no worker is added after this
            workers = list(self._workers)
        for _ in workers:
            self._ready.put((-1, next(self._tie), None))
        with self._parked_cond:
            self._parked_cond.notify_all()
        with self._batch_cond:
            self._batch_cond.notify_all()
        self._commits.put(None)
        for thread in [*workers, self._scheduler, self._committer, self._batcher]:
            thread.join(timeout=10)

    @property
    def workers(self) -> int:
        """Worker threads started so far (they follow the latency, up to ``max_concurrency``)."""
        return len(self._workers)

    def _grow(self, wanted: int) -> None:
        """Start workers until ``wanted`` run (the main thread and workers may both ask)."""
        with self._lock:
            while len(self._workers) < wanted and not self._stop.is_set():
                worker = threading.Thread(
                    target=self._work, name=f"sender-{len(self._workers)}", daemon=True
                )
                self._workers.append(worker)
                worker.start()

    # -- batches of rows (main thread, or the batcher for a batch left waiting) -----------
    def _batch_timer(self) -> None:
        """Look up a batch that has waited ``LOOKUP_DELAY`` (input that trickles in)."""
        with self._batch_cond:
            while not self._stop.is_set():
                if not self._rows:
                    self._batch_cond.wait()
                    continue
                due = self._batch_due - time.monotonic()
                if due > 0:
                    self._batch_cond.wait(timeout=due)
                    continue
                try:
                    self._run_batch()
                except BaseException as exc:  # noqa: BLE001 - any surprise stops the run cleanly
                    self._fail(exc)

    def _run_batch(self) -> None:
        """Resolve, look up and dispatch the waiting rows, in order (under ``_batch_cond``).

        People and ledger entries come from the ledger in a few queries for the whole batch.
        An entry read then is trusted only for a person with nothing in flight then and nothing
        dispatched since (``touched``): only that person's own calls change their entries.
        """
        rows, self._rows = self._rows, []
        if not rows or self._halt.is_set():
            return
        self.people.prefetch(i for row in rows for i in _identifiers(row.call))
        with self._lock:
            touched = set(self._busy)
        entries = Entries(self.ledger, self._likely_keys(rows))
        skipped: list[tuple[Row, Resolution, str]] = []
        for row in rows:
            self._place(row, entries, touched, skipped)
        self._acknowledge_skipped(skipped)

    def _acknowledge_skipped(self, skipped: list[tuple[Row, Resolution, str]]) -> None:
        """Rows the ledger made needless: record the links they taught us, then acknowledge."""
        links = [link for _, found, _ in skipped for link in found.links]
        if links:  # e.g. the first run on a ledger older than person links
            self.ledger.commit([LedgerWrite(None, "", "", tuple(links))])
            self.people.saved(links)
        for row, _, done in skipped:
            getattr(self.progress, done)(row.stream)
        self.sync_log.note_all(
            (r.stream, r.record, r.call, done, None, None) for r, _, done in skipped
        )
        self.tracker.close_all(row.seq for row, _, _ in skipped)
        skipped.clear()

    def _likely_keys(self, rows: list[Row]) -> list[LedgerKey]:
        """The ledger keys the rows will most likely need (before this batch's own links)."""
        owner = self.people.owner
        keys = []
        for row in rows:
            ids = _identifiers(row.call)
            row.guess = owner(ids[0]) or next((p for p in map(owner, ids) if p), ids[0])
            if self.full_resend or not row.call.trust_ledger:
                continue
            row.key = person_ledger_key(row.call, row.guess)
            if row.key is not None:
                keys.append(row.key)
        return keys

    def _place(
        self,
        row: Row,
        entries: Entries,
        touched: set[str],
        skipped: list[tuple[Row, Resolution, str]],
    ) -> None:
        """One row: queued behind its person's call, skipped by the ledger, or dispatched."""
        found = self.people.resolve(_identifiers(row.call))
        if found.merged:
            # Rare: a row links two people known apart. Let earlier rows finish, then merge.
            self._acknowledge_skipped(skipped)
            self.tracker.wait_rows_before(row.seq, self._stop)
            self.raise_if_failed()
            self.ledger.merge_people(found.person, found.merged)
            touched.update(found.merged)
        person = found.person
        with self._lock:
            pending = self._busy.get(person)
            if pending is not None:
                pending.append(self._job(row, found, check=True))
                touched.add(person)
                return
        # Nothing of this person is in flight (only this thread adds work): the ledger is final.
        key = row.key if person == row.guess else person_ledger_key(row.call, person)
        fresh = person not in touched
        done = _done_by_ledger(entries, key, row.call, fresh=fresh, full_resend=self.full_resend)
        if done is not None:
            skipped.append((row, found, done))
            return
        touched.add(person)
        job = self._job(row, found, check=False)
        with self._lock:
            self._busy[person] = collections.deque()
        self._dispatch(job)

    # -- helpers --------------------------------------------------------------------------
    def _job(self, row: Row, found: Resolution, *, check: bool) -> Job:
        return Job(
            seq=row.seq,
            stream=row.stream,
            record=row.record,
            call=row.call,
            person=found.person,
            ledger_key=person_ledger_key(row.call, found.person),
            links=found.links,
            check=check,
        )

    def _dispatch(self, job: Job, *, continued: bool = False) -> None:
        """Book the person's next slot, then hand the job to the workers or park it until then.

        The slot is booked here, from the person's schedule, not by the worker when it gets
        the job: the time a job waits for a worker, and for the key's slot, is not added to the
        person's pace. A person's next call (``continued``) goes before any person's first, so
        a busy person's calls keep their slots however many others are queued.
        """
        if self._halt.is_set():
            return  # interrupted: the row stays unacknowledged
        if job.check:  # the person's previous call is committed: the ledger is final here
            done = _done_by_ledger(
                Entries(self.ledger), job.ledger_key, job.call, full_resend=self.full_resend
            )
            if done is not None:
                self._commits.put(Outcome(job, done))
                return
        wait = self.client.policy.user_pacer.reserve(job.person)
        job.booked = True
        if wait <= PARK_THRESHOLD:
            self._hand_over(0 if continued else 1, job)
            return
        with self._parked_cond:
            heapq.heappush(self._parked, (time.monotonic() + wait, next(self._tie), job))
            self._parked_cond.notify()

    def _fail_call(self, job: Job, exc: BaseException) -> None:
        """A call that stops the run: its fate is unknown (failed in the sync log)."""
        message = self.client.policy.redactor(str(exc))
        self.sync_log.note(job.stream, job.record, job.call, "failed", message=message)
        self._fail(exc)

    def _hand_over(self, priority: int, job: Job) -> None:
        with self._taken:
            self._handed += 1
        self._ready.put((priority, next(self._tie), job))

    def _fail(self, exc: BaseException) -> None:
        if self.fatal is None:
            self.fatal = exc
            self.log.error("Stopping: %s", self.client.policy.redactor(str(exc)))
        self._stop.set()
        self.tracker.wake()
        with self._taken:
            self._taken.notify_all()

    # -- scheduler thread -----------------------------------------------------------------
    def _schedule(self) -> None:
        with self._parked_cond:
            while not self._stop.is_set():
                if not self._parked:
                    self._parked_cond.wait()
                    continue
                due = self._parked[0][0] - time.monotonic()
                if due > 0:
                    self._parked_cond.wait(timeout=due)
                    continue
                self._hand_over(0, heapq.heappop(self._parked)[2])

    # -- worker threads -------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            _, _, job = self._ready.get()
            if job is None or self._stop.is_set():
                return
            with self._taken:
                self._handed -= 1
                self._taken.notify()
            with self._idle:
                if self._halt.is_set():
                    continue
                self._active += 1
            try:
                outcome = self._run(job)
            except BaseException as exc:  # noqa: BLE001 - any surprise stops the run cleanly
                self._fail(exc)
                outcome = None
            if outcome is not None:
                self._commits.put(outcome)
            with self._idle:
                self._active -= 1
                self._idle.notify_all()
            if self.fatal is not None:
                return

    def _run(self, job: Job) -> Outcome | None:
        call = job.call
        try:
            answer = self.client.send(
                call.method,
                call.path,
                params=call.params,
                json_body=call.json_body,
                user_key=job.person,
                user_slot_booked=job.booked,
            )
        except (RefinerAuthError, RefinerEndpointError) as exc:
            self._fail_call(job, exc)
            return None
        except RefinerApiError as exc:
            if _contact_already_gone(call, exc):
                return Outcome(job, "skipped")  # the delete is done
            return Outcome(job, "rejected", status=exc.status, body=exc.body, reason=str(exc))
        except RETRYABLE_EXCEPTIONS as exc:
            self._fail_call(job, SenderFailedError(self.client.policy.gave_up(exc)))
            return None
        wanted = self._concurrency.observe(answer.elapsed.total_seconds())
        if wanted > len(self._workers):
            self._grow(wanted)
        return Outcome(job, "sent")

    # -- committer thread -----------------------------------------------------------------
    def _commit_loop(self) -> None:
        while True:
            first = self._commits.get()
            if first is None:
                return
            batch, barriers = self._take_batch(first)
            try:
                if batch:
                    self._commit(batch)
            except BaseException as exc:  # noqa: BLE001
                self._fail(exc)
                return
            finally:
                for barrier in barriers:
                    barrier.set()

    def _take_batch(
        self, item: Outcome | threading.Event | None
    ) -> tuple[list[Outcome], list[threading.Event]]:
        """Outcomes waiting now (up to COMMIT_BATCH), and the barriers among them."""
        batch: list[Outcome] = []
        barriers: list[threading.Event] = []
        while item is not None:
            if isinstance(item, threading.Event):
                barriers.append(item)
            else:
                batch.append(item)
            if len(batch) >= COMMIT_BATCH:
                break
            try:
                item = self._commits.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._commits.put(None)  # the stop marker, for the outer loop
        return batch, barriers

    def _commit(self, batch: list[Outcome]) -> None:
        # A sent call records its ledger entry; any row records the person links it taught us.
        writes = [
            LedgerWrite(
                o.job.ledger_key if o.kind == "sent" else None,
                o.job.call.payload_hash,
                o.job.person,
                o.job.links,
            )
            for o in batch
            if (o.kind == "sent" and o.job.ledger_key is not None) or o.job.links
        ]
        for o in batch:
            if o.kind == "rejected":
                self.dead_letter.reject(
                    o.job.stream, o.job.record, o.reason, status=o.status, body=o.body
                )
        if writes:
            self.ledger.commit(writes)
            self.people.saved(link for o in batch for link in o.job.links)
        # Only now is a sent row applied: Refiner acknowledged it and the ledger holds it.
        self.sync_log.note_all(
            (o.job.stream, o.job.record, o.job.call, o.kind, o.status, o.reason or None)
            for o in batch
        )
        for o in batch:
            getattr(self.progress, o.kind)(o.job.stream)
            if o.job.call.tally is not None:
                o.job.call.tally(o.kind)
            self.tracker.close(o.job.seq)
            self._release(o.job.person)
        self.progress.check_reject_ratio()

    def _release(self, user: str) -> None:
        """The user's call is done: start their next one, or mark them idle."""
        with self._lock:
            pending = self._busy.get(user)
            if pending:
                job = pending.popleft()
            else:
                self._busy.pop(user, None)
                return
        self._dispatch(job, continued=True)


def _started(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def _identifiers(call: ApiCall) -> tuple[str, ...]:
    """Every identifier a call names its person by (at least its user key)."""
    return call.identifiers or (call.user_key,)


class Entries:
    """Ledger entries looked up for a batch of rows at once; other keys are read one by one."""

    def __init__(self, ledger: LedgerStore, keys: Collection[LedgerKey] = ()) -> None:
        """Look ``keys`` up now (one query per kind, scope and few hundred keys)."""
        self.ledger = ledger
        self._asked = set(keys)
        self._found = ledger.lookup_entries(self._asked) if self._asked else {}

    def verdict(self, key: LedgerKey | None, payload_hash: str, *, fresh: bool) -> str | None:
        """The ledger's verdict on a call; ``fresh``: the batch's read may be used."""
        if key is None:
            return None
        if fresh and key in self._asked:
            return verdict(key, self._found.get(key), payload_hash)
        return self.ledger.already_done(key, payload_hash)


def _done_by_ledger(
    entries: Entries,
    key: LedgerKey | None,
    call: ApiCall,
    *,
    full_resend: bool,
    fresh: bool = False,
) -> str | None:
    """What the ledger says makes the call needless (see ``ledger.verdict``), or None."""
    if full_resend or not call.trust_ledger:
        return None
    return entries.verdict(key, call.payload_hash, fresh=fresh)


def _contact_already_gone(call: ApiCall, exc: RefinerApiError) -> bool:
    """A 404 on a delete or a mirror removal is success only when the contact does not exist."""
    removal = call.action == DELETE_CONTACT or (
        call.action == MIRROR_SEGMENT and call.method == "DELETE"
    )
    return removal and exc.status == HTTPStatus.NOT_FOUND and "contact" in exc.message.lower()


class DryRunSender:
    """Same interface as :class:`Sender`, but writes would-be calls to a JSONL file."""

    def __init__(  # noqa: PLR0913 - the run's collaborators
        self,
        ledger: LedgerStore,
        people: People,
        out: JsonLines,
        progress: Progress,
        sync_log: SyncLogNotes,
        *,
        full_resend: bool = False,
    ) -> None:
        """No threads: nothing is sent."""
        self.ledger = ledger
        self.people = people
        self.out = out
        self.progress = progress
        self.sync_log = sync_log
        self.full_resend = full_resend

    def submit(self, stream: str, record: dict[str, Any], call: ApiCall) -> None:
        """Write the call unless the ledger says Refiner already has it."""
        found = self.people.resolve(_identifiers(call))
        self.people.saved(found.links)  # nothing is committed in a dry run: keep memory bounded
        key = person_ledger_key(call, found.person)
        done = _done_by_ledger(Entries(self.ledger), key, call, full_resend=self.full_resend)
        if done is not None:
            getattr(self.progress, done)(stream)
            self.sync_log.note(stream, record, call, done)
            return
        self.out.write({"stream": stream, **call.as_dict()})
        self.progress.sent(stream)
        self.sync_log.note(stream, record, call, "planned")
        if call.tally is not None:
            call.tally("sent")

    def flush(self, interrupted: Callable[[], bool] | None = None) -> bool:
        """Nothing is in flight: done, unless the run was interrupted meanwhile."""
        return interrupted is None or not interrupted()

    def raise_if_failed(self) -> None:
        """A dry run cannot fail on the API."""

    def interrupt(self) -> None:
        """Nothing is in flight."""

    def close(self) -> None:
        """Close the output file."""
        self.out.close()
