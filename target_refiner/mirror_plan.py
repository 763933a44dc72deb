"""The diff of one mirrored segment, and the guards on it: pure functions, no I/O.

:func:`plan_mirror` compares who the rows list (``audience.SegmentList``) with the members
Refiner lists now (``members.Member``):

- a member whose ``remote_id`` the rows list, or whose email an email-only row lists, stays;
- an email-only member stays when any row names its email (with or without a user id);
- the people the rows list and no member matches are added, by user id, else by email (an
  email-only row whose email a row with a user id also names is that row's person);
- the other members are removed by user id, else by email, when ``remove_unlisted``; never a
  member Refiner lists without id and email (no call can name it), nor an email-only member
  whose email another member of the segment shares (a removal by that email could hit the
  other contact). Both are counted and reported instead.

:func:`refusal` is checked before any removal: removing more than ``max_removal_ratio`` of the
current members, or every member when the rows list nobody, refuses the segment.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from target_refiner.audience import Listed, SegmentList
    from target_refiner.members import Member


@dataclass
class MirrorPlan:
    """What one segment needs so that its members are exactly the people the rows list."""

    members: int
    people: int
    adds: list[Listed] = field(default_factory=list)
    removes: list[Member] = field(default_factory=list)
    unchanged: int = 0
    #: Unlisted members left in place because ``remove_unlisted`` is false.
    kept: list[Member] = field(default_factory=list)
    #: Members without user id and email: no sync-segment call can name them.
    unnamed: list[Member] = field(default_factory=list)
    #: Unlisted email-only members whose email another member shares.
    ambiguous: list[Member] = field(default_factory=list)


def _stays(member: Member, listed: SegmentList, matched: set[str]) -> bool:
    """Whether the rows list ``member``; the user ids it stands for go into ``matched``."""
    email = member.email_key
    if member.remote_id is not None:
        if member.remote_id in listed.by_id:
            matched.add(member.remote_id)
            return True
        return email is not None and email in listed.by_email
    if email is None:
        return False
    if email in listed.id_emails:
        matched.update(listed.id_emails[email])  # the same person, whom Refiner will adopt
        return True
    return email in listed.by_email


def _sort_unlisted(
    plan: MirrorPlan, unlisted: list[Member], members: list[Member], *, remove_unlisted: bool
) -> None:
    shared = collections.Counter(m.email_key for m in members if m.email_key)
    for member in unlisted:
        if not remove_unlisted:
            plan.kept.append(member)
        elif member.remote_id is None and shared[member.email_key or ""] > 1:
            plan.ambiguous.append(member)
        else:
            plan.removes.append(member)


def plan_mirror(listed: SegmentList, members: list[Member], *, remove_unlisted: bool) -> MirrorPlan:
    """The adds and removes that make the segment's members the people ``listed``."""
    plan = MirrorPlan(members=len(members), people=listed.people)
    matched_ids: set[str] = set()
    member_emails: set[str] = set()
    unlisted: list[Member] = []
    for member in members:
        if member.email_key is not None:
            member_emails.add(member.email_key)
        if member.remote_id is None and member.email_key is None:
            plan.unnamed.append(member)
        elif _stays(member, listed, matched_ids):
            plan.unchanged += 1
        else:
            unlisted.append(member)
    _sort_unlisted(plan, unlisted, members, remove_unlisted=remove_unlisted)
    plan.adds = [person for key, person in listed.by_id.items() if key not in matched_ids]
    plan.adds += [
        person
        for email, person in listed.by_email.items()
        if email not in member_emails and email not in listed.id_emails
    ]
    return plan


def refusal(plan: MirrorPlan, *, max_removal_ratio: float) -> str | None:
    """Why the segment's removals are refused, or None (``allow_large_removals`` skips this)."""
    removing = len(plan.removes)
    if removing == 0:
        return None
    if plan.people == 0:
        return (
            f"the rows list nobody, so all {removing} of its {plan.members} members would be "
            "removed (an empty input)"
        )
    ratio = removing / plan.members
    if ratio > max_removal_ratio:
        return (
            f"it would remove {removing} of its {plan.members} members ({ratio:.0%}), more than "
            f"`max_removal_ratio` ({max_removal_ratio:.0%})"
        )
    return None
