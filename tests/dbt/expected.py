"""What the package's marts must hold, computed in Python from what the emulator serves.

Independent of the SQL: responses (``include=all``: views, dismissals, partials) and the forms'
questions are read from the emulator's API, and the per-survey, per-UTC-day figures are counted
here with Refiner's definitions (NPS 0-6 / 7-8 / 9-10, CSAT 4-5 satisfied).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from refiner_emulator.reporting import CSAT_SATISFIED_MIN, NPS_PASSIVE_MIN, NPS_PROMOTER_MIN
from tap_refiner.shapes import as_number

MARTS = (
    "refiner__response_breakdown",
    "refiner__survey_daily",
    "refiner__survey_overview",
    "refiner__contact_overview",
    "refiner__recent_detractors",
)


def utc_day(text: str | None) -> dt.date | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text).astimezone(dt.timezone.utc).date()


def nps_category(value: float) -> str:
    if value < NPS_PASSIVE_MIN:
        return "detractor"
    return "passive" if value < NPS_PROMOTER_MIN else "promoter"


@dataclass
class Day:
    """The figures of one survey on one UTC day."""

    views: int = 0
    responses: int = 0
    nps: Counter = field(default_factory=Counter)
    csat: Counter = field(default_factory=Counter)  # "satisfied" / "other"


@dataclass
class Expected:
    """The emulator's data, counted: per (form_uuid, day), categories, the audience."""

    days: dict[tuple[str, dt.date], Day]
    categories: Counter
    csat_scores: Counter
    detractors: set[str]  # contact uuids of the audience

    def daily_rows(self) -> dict[tuple[str, dt.date], tuple]:
        """(views, responses, nps answers, promoters, passives, detractors, csat, satisfied)."""
        return {
            key: (
                day.views,
                day.responses,
                sum(day.nps.values()),
                day.nps["promoter"],
                day.nps["passive"],
                day.nps["detractor"],
                sum(day.csat.values()),
                day.csat["satisfied"],
            )
            for key, day in self.days.items()
        }


def question_types(forms: list[dict]) -> dict[tuple[str, str], str]:
    return {
        (form["uuid"], str(element["id"])): element["type"]
        for form in forms
        for element in (form.get("config") or {}).get("form_elements") or ()
    }


class Counting:
    """Counts responses one by one into days, groups and the audience's latest NPS answers."""

    def __init__(self, types: dict[tuple[str, str], str], since: dt.date) -> None:
        self.types = types
        self.since = since
        self.days: dict[tuple[str, dt.date], Day] = defaultdict(Day)
        self.categories: Counter = Counter()
        self.csat_scores: Counter = Counter()
        self.latest_nps: dict[str, tuple[tuple[str, str], float]] = {}

    def add(self, response: dict[str, Any]) -> None:
        form = response["form"]["uuid"]
        shown = utc_day(response.get("last_shown_at"))
        if shown is not None:
            self.days[form, shown].views += 1
        answered = utc_day(response.get("last_data_reception_at"))
        if answered is None:
            return
        day = self.days[form, answered]  # a day with answers has a row, whatever they are
        if response.get("completed_at"):
            day.responses += 1
        for question, value in (response.get("data") or {}).items():
            kind, number = self.types.get((form, str(question))), as_number(value)
            if number is not None and kind == "nps":
                day.nps[nps_category(number)] += 1
                self.categories[nps_category(number)] += 1
                self.remember_nps(response, str(question), answered, number)
            elif number is not None and kind == "csat":
                day.csat["satisfied" if number >= CSAT_SATISFIED_MIN else "other"] += 1
                self.csat_scores[int(number)] += 1

    def remember_nps(
        self, response: dict[str, Any], question: str, answered: dt.date, number: float
    ) -> None:
        """The contact's latest NPS answer in the window (the model's order: time, answer id)."""
        contact = response.get("contact") or {}
        if answered < self.since or not (contact.get("remote_id") or contact.get("email")):
            return
        order = (response["last_data_reception_at"], f"{response['uuid']}/{question}")
        previous = self.latest_nps.get(contact["uuid"])
        if previous is None or previous[0] < order:
            self.latest_nps[contact["uuid"]] = (order, number)


def expected_from(client, *, detractor_days: int = 30) -> Expected:
    """Count everything from the emulator's API (``client`` is ``EmulatorProcess.api``)."""
    forms = client.items("/forms", list="all_with_archived", include_config=1)
    today = dt.datetime.now(dt.timezone.utc).date()
    counting = Counting(question_types(forms), today - dt.timedelta(days=detractor_days - 1))
    for response in client.items("/responses", include="all"):
        counting.add(response)
    latest = counting.latest_nps
    detractors = {c for c, (_, number) in latest.items() if number < NPS_PASSIVE_MIN}
    return Expected(dict(counting.days), counting.categories, counting.csat_scores, detractors)
