"""mirror_segment: a stream's rows are a manual segment's complete member list, applied exactly.

During the input, rows only gather in an :class:`~target_refiner.audience.Audience` per stream
(``RefinerSink``), and each mirror stream *holds* every later STATE from its SCHEMA on
(``AckTracker.open(hold=True)``). At the end of the input, after the other streams' calls are
acknowledged, :meth:`Mirror.apply`:

1. refuses a stream whose input is incremental (a replication-key bookmark in the tap's STATE):
   rows not re-sent would read as "left the segment";
2. checks the segments: only manual ones (constant uuids were checked before the input was
   read); the rows of a ``segment_uuid_field`` segment that is unknown or not manual go to the
   dead-letter file with the reason;
3. reads each segment's members from Refiner, once, and plans its diff (``mirror_plan.py``);
4. checks every segment's guards (and that no segment is mirrored by two streams); if one
   refuses, nothing is sent for any segment and the run stops with one line (exit 1) unless
   ``allow_large_removals``. A dry run writes every would-be call first, then stops the same
   way, so it predicts the real run;
5. hands each segment's adds, then its removes, to the sender: paced per key and per person,
   acknowledged, a 4xx to the dead-letter file with the reason; the ledger is updated but not
   trusted (Refiner was just read), and unchanged members cost no call;
6. once every call is acknowledged, ends the holds, which releases the STATE.

A run stopped in between (Refiner failing, SIGTERM, kill -9) keeps the holds, so no STATE covers
the mirror's rows; the next run reads the members again and sends only what is still missing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from target_refiner.audience import Audience, replication_bookmark
from target_refiner.errors import RunStoppedError
from target_refiner.mapping import mirror_call
from target_refiner.mapping_settings import MIRROR_SEGMENT
from target_refiner.members import read_members
from target_refiner.mirror_plan import plan_mirror, refusal

if TYPE_CHECKING:
    from collections.abc import Callable

    from target_refiner.audience import SegmentList
    from target_refiner.mapping import ApiCall
    from target_refiner.mapping_settings import StreamMapping
    from target_refiner.members import Member
    from target_refiner.mirror_plan import MirrorPlan
    from target_refiner.runtime import Runtime
    from target_refiner.settings import Settings


class MirrorRefusedError(RunStoppedError):
    """A mirror would do harm (incremental input, large removals): nothing was changed."""


@dataclass
class MirrorCounts:
    """What became of one segment's calls (the sender's committer thread reports here)."""

    added: int = 0
    removed: int = 0
    rejected: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def tally(self, *, add: bool) -> Callable[[str], None]:
        """The report for an add or a removal: ``rejected`` by Refiner, else done.

        A removal ``skipped`` is a contact gone meanwhile: in no segment, so removed.
        """

        def report(kind: str) -> None:
            with self._lock:
                if kind == "rejected":
                    self.rejected += 1
                elif add:
                    self.added += 1
                else:
                    self.removed += 1

        return report


@dataclass
class SegmentWork:
    """One segment of one stream: its rows, Refiner's members, the diff and what became of it."""

    audience: Audience
    segment: str
    name: str
    listed: SegmentList
    plan: MirrorPlan
    counts: MirrorCounts = field(default_factory=MirrorCounts)

    @property
    def title(self) -> str:
        """How messages name it."""
        return f"segment '{self.name}' ({self.segment}) from stream '{self.audience.stream}'"


class Mirror:
    """The run's mirror_segment streams, from their first row to their applied diff."""

    def __init__(self, run: Runtime, settings: Settings) -> None:
        """Nothing is read or held until a mirror stream's SCHEMA arrives.

        ``run`` gives the run's client, segment catalog, sender, tracker, progress, dead-letter
        file and log; they are looked up when used.
        """
        self.run = run
        self.settings = settings
        self.streams = {s for s, m in settings.mappings.items() if m.action == MIRROR_SEGMENT}
        self.audiences: dict[str, Audience] = {}
        self._holds: dict[str, int] = {}
        self._works: list[SegmentWork] = []
        #: Stream -> where the tap's STATE showed a replication-key bookmark for it.
        self.incremental: dict[str, str] = {}

    # -- during the input -----------------------------------------------------------------
    def audience_for(self, stream: str, mapping: StreamMapping) -> Audience:
        """The stream's rows of this run (a new SCHEMA keeps them); holds STATE from now on."""
        audience = self.audiences.get(stream)
        if audience is None:
            audience = self.audiences[stream] = Audience(stream, mapping)
            self._holds[stream] = self.run.tracker.open(hold=True)
        return audience

    def observe_state(self, state: object, aliases: Callable[[str], list[str]]) -> None:
        """Remember mirror streams whose STATE bookmark says the input is incremental."""
        bookmarks = state.get("bookmarks") if isinstance(state, dict) else None
        if not self.streams or not isinstance(bookmarks, dict):
            return
        for name, bookmark in bookmarks.items():
            where = replication_bookmark(bookmark)
            if where is None:
                continue
            for stream in aliases(str(name)):
                if stream in self.streams:
                    self.incremental.setdefault(stream, f"bookmarks.{name}.{where}")

    @property
    def unapplied(self) -> str:
        """The mirror streams whose diff is not applied yet (their holds are open), or ""."""
        return ", ".join(f"'{stream}'" for stream in self._holds)

    @property
    def figures(self) -> dict[str, dict[str, int]]:
        """Each planned segment's members before, diff and applied calls (for the sync log)."""
        return {
            work.segment: {
                "members": work.plan.members,
                "adds": len(work.plan.adds),
                "removes": len(work.plan.removes),
                "applied_adds": work.counts.added,
                "applied_removes": work.counts.removed,
            }
            for work in self._works
        }

    # -- at the end of the input ----------------------------------------------------------
    def apply(self, interrupted: Callable[[], bool]) -> None:
        """Diff and apply every mirrored segment (see the module doc); raises when refused."""
        if not self.audiences or interrupted():
            return
        self._refuse_incremental()
        works = [w for audience in self.audiences.values() for w in self._plan(audience)]
        _refuse_shared(works)
        self._works = works
        refused = self._refusals(works)
        if refused and not self.settings.dry_run:
            raise MirrorRefusedError(_refusal_message(refused, dry_run_path=None))
        done = self._send(works, interrupted)
        self._report(works)
        if refused:
            raise MirrorRefusedError(_refusal_message(refused, self.settings.dry_run_path))
        if done:
            for seq in self._holds.values():
                self.run.tracker.close(seq)
            self._holds.clear()

    def _refuse_incremental(self) -> None:
        for stream, where in self.incremental.items():
            if stream in self.audiences:
                msg = (
                    f"Stream '{stream}' (mirror_segment) cannot be mirrored: its input is "
                    f"incremental (the tap's STATE has {where}), so every member whose row "
                    "was not sent again would be removed. Nothing was changed. Read the "
                    "stream as a full table (replication method FULL_TABLE), or map it with "
                    "`action: add_to_segment`."
                )
                raise MirrorRefusedError(msg)

    def _plan(self, audience: Audience) -> list[SegmentWork]:
        works = []
        segments = audience.segments()
        if not segments:
            self.run.log.info(
                "Stream '%s' (mirror_segment): no rows name a segment, so none was mirrored",
                audience.stream,
            )
        for segment, listed in segments.items():
            problem = self.run.catalog.problem(segment)
            if problem is not None:
                self._reject_rows(audience.stream, listed, problem)
                continue
            members = read_members(self.run.client, segment)
            plan = plan_mirror(listed, members, remove_unlisted=audience.mapping.remove_unlisted)
            name = self.run.catalog.name(segment)
            works.append(SegmentWork(audience, segment, name, listed, plan))
        return works

    def _reject_rows(self, stream: str, listed: SegmentList, problem: str) -> None:
        """Rows naming an unusable segment (through ``segment_uuid_field``): dead-lettered."""
        reason = f"mirror_segment: {problem}; the row's person was not mirrored"
        for person in [*listed.by_id.values(), *listed.by_email.values()]:
            self.run.dead_letter.reject(stream, person.record, reason)
            self.run.sync_log.note(stream, person.record, None, "rejected", message=reason)
        self.run.progress.release(stream, listed.rows)
        for _ in range(listed.rows):
            self.run.progress.rejected(stream)
        self.run.log.warning(
            "Stream '%s': %d rows name an unusable segment (%s); they are in the dead-letter file",
            stream,
            listed.rows,
            problem,
        )

    def _refusals(self, works: list[SegmentWork]) -> list[str]:
        if self.settings.allow_large_removals:
            return []
        ratio = self.settings.max_removal_ratio
        return [
            f"{w.title}: {why}"
            for w in works
            if (why := refusal(w.plan, max_removal_ratio=ratio)) is not None
        ]

    def _send(self, works: list[SegmentWork], interrupted: Callable[[], bool]) -> bool:
        """Submit every add, then every removal; True once all are acknowledged."""
        self._count_rows(works)
        calls = [call for work in works for call in self._calls(work)]
        for stream, record, call in calls:
            if interrupted():
                return False
            self.run.sender.submit(stream, record, call)
        return self.run.sender.flush(interrupted)

    def _count_rows(self, works: list[SegmentWork]) -> None:
        """Held rows become what happens to them.

        An add's row is counted by the sender; every other row (already a member, a duplicate,
        of an older version) as skipped unchanged.
        """
        skipped: dict[str, int] = {}
        for audience in self.audiences.values():
            skipped[audience.stream] = audience.superseded
            self.run.progress.release(audience.stream, audience.superseded)
        for work in works:
            stream = work.audience.stream
            self.run.progress.release(stream, work.listed.rows)
            skipped[stream] += work.listed.rows - len(work.plan.adds)
            adding = {id(person) for person in work.plan.adds}
            self.run.sync_log.note_all(
                (stream, person.record, None, "skipped", None, None)
                for person in [*work.listed.by_id.values(), *work.listed.by_email.values()]
                if id(person) not in adding
            )
        for stream, count in skipped.items():
            for _ in range(count):
                self.run.progress.skipped(stream)

    def _calls(self, work: SegmentWork) -> list[tuple[str, dict[str, Any], ApiCall]]:
        segment, counts = work.segment, work.counts
        on_add, on_remove = counts.tally(add=True), counts.tally(add=False)
        adds = [
            (person.record, mirror_call(person.identity, segment, add=True, tally=on_add))
            for person in work.plan.adds
        ]
        removes = [
            (
                member.as_record(segment),
                mirror_call(_named(member), segment, add=False, tally=on_remove),
            )
            for member in work.plan.removes
        ]
        return [(work.audience.stream, record, call) for record, call in adds + removes]

    def _report(self, works: list[SegmentWork]) -> None:
        for work in works:
            self.run.log.info("%s", _summary(work, dry_run=self.settings.dry_run))
            unnamed = [m.uuid for m in work.plan.unnamed]
            if unnamed and work.audience.mapping.remove_unlisted:
                self.run.log.warning(
                    "%s: %d members have neither a user id nor an email, so no sync-segment call "
                    "can remove them; remove them in Refiner if they do not belong: %s",
                    work.title,
                    len(unnamed),
                    ", ".join(str(u) for u in unnamed[:20]),
                )


def _refuse_shared(works: list[SegmentWork]) -> None:
    """Two streams mirroring one segment would each remove the other's members, every run."""
    streams: dict[str, list[str]] = {}
    for work in works:
        streams.setdefault(work.segment, []).append(work.audience.stream)
    for segment, names in streams.items():
        if len(names) > 1:
            msg = (
                f"Segment {segment} is mirrored by the streams {sorted(names)}: each would remove "
                "the other's members. Nothing was changed. Mirror a segment from one stream "
                "(a view can UNION the lists)."
            )
            raise MirrorRefusedError(msg)


def _named(member: Member) -> dict[str, Any]:
    """The one identifier a removal sends: the user id, else the email."""
    if member.remote_id is not None:
        return {"id": member.remote_id}
    return {"email": member.email}


def _details(work: SegmentWork) -> str:
    """The counts behind a segment's line; the unusual ones only when they happened."""
    plan, listed = work.plan, work.listed
    parts = [f"{listed.rows} rows listing {plan.people} people", f"{plan.members} members before"]
    extras = (
        (listed.duplicates, "duplicate rows"),
        (work.audience.superseded, "rows of older versions (not listed)"),
        (len(plan.kept), "unlisted members kept (remove_unlisted: false)"),
        (len(plan.unnamed), "members without user id or email (left in place)"),
        (len(plan.ambiguous), "unlisted members sharing an email (left in place)"),
    )
    parts += [f"{count} {what}" for count, what in extras if count]
    return ", ".join(parts)


def _summary(work: SegmentWork, *, dry_run: bool) -> str:
    plan, counts = work.plan, work.counts
    if dry_run:
        return (
            f"Dry run: mirror of {work.title} would add {len(plan.adds)} and remove "
            f"{len(plan.removes)}, {plan.unchanged} unchanged ({_details(work)})"
        )
    return (
        f"Mirror of {work.title}: {counts.added} added, {counts.removed} removed, "
        f"{plan.unchanged} unchanged, {counts.rejected} rejected ({_details(work)})"
    )


def _refusal_message(refused: list[str], dry_run_path: object) -> str:
    written = ""
    if dry_run_path is not None:
        written = f" (dry run: the would-be calls are in {dry_run_path})"
    return (
        f"Mirror refused, nothing was changed{written}: {'; '.join(refused)}. If this is "
        "intended, run once with `allow_large_removals: true`."
    )
