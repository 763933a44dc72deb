"""GET /reporting: nps, csat, ratings, distribution and count, computed from stored responses.

Answers are read from questions of the matching type in the selected forms (or the questions
named in ``question_identifiers[]``); the default range is the last 7 days through the end of
today (now = the real clock, like the real API).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from refiner_emulator import query, timefmt
from refiner_emulator.store import ApiError

if TYPE_CHECKING:
    from refiner_emulator.store import Response, Store

DAY = 86_400
REPORT_TYPES = ("nps", "csat", "ratings", "distribution", "count")
QUESTION_TYPES = {
    "nps": {"nps"},
    "csat": {"csat"},
    "ratings": {"rating", "csat"},
    "distribution": {"multiple_choice"},
}
NPS_PASSIVE_MIN, NPS_PROMOTER_MIN, CSAT_SATISFIED_MIN = 7, 9, 4


def _number(value: Any) -> float | None:  # noqa: ANN401 - JSON scalar
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _score_key(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _questions(store: Store, forms: set[str], kind: str, wanted: list[str]) -> set[str]:
    if wanted:
        return set(wanted)
    types = QUESTION_TYPES[kind]
    return {
        str(e["id"])
        for f in store.forms.values()
        if not forms or f.uuid in forms
        for e in f.elements
        if e["type"] in types
    }


def _answers(rows: list[Response], questions: set[str]) -> list[Any]:
    return [r.data[q] for r in rows for q in questions if q in r.data]


DATE_ONLY_CHARS = len("2026-01-01")


def report(store: Store, params: dict[str, Any], *, inclusive_end: bool = False) -> dict[str, Any]:
    """Build the reporting body for ``params`` (400 on invalid input)."""
    kind = query.text_param(params, "type", required=True)
    if kind not in REPORT_TYPES:
        raise ApiError(400, "The selected type is invalid.")
    start = query.date_param(params, "date_range_start")
    end = query.date_param(params, "date_range_end")
    today = timefmt.start_of_day(timefmt.now())
    start = today - 6 * DAY if start is None else start
    end = today + DAY if end is None else end
    if inclusive_end and params.get("date_range_end"):
        # the variant that includes the end: a date means through that day, a time that second
        given = str(params["date_range_end"])
        end += DAY if len(given.strip()) <= DATE_ONLY_CHARS else 1
    forms = set(query.list_param(params, "form_uuids"))
    wanted = query.list_param(params, "question_identifiers")
    check = query.response_filter(params, plural_only=True)
    window = {
        "date_range_start": timefmt.plain(start),
        "date_range_end": timefmt.plain(end),
    }

    def keep(r: Response) -> bool:
        return check is None or check(r)

    data_rows = [
        store.responses[k[-1]]
        for k in query.date_window(store.response_by_reception.keys, start, end)
    ]
    data_rows = [r for r in data_rows if keep(r)]
    if kind == "count":
        shown = query.date_window(store.response_by_shown.keys, start, end)
        views = sum(1 for k in shown if keep(store.responses[k[-1]]))
        completed = sum(1 for r in data_rows if r.completed_at is not None)
        return {"views": views, "responses": completed, **window}
    questions = _questions(store, forms, kind, wanted)
    answers = _answers(data_rows, questions)
    if kind == "distribution":
        counts: Counter[str] = Counter()
        for answer in answers:
            for item in answer if isinstance(answer, list) else [answer]:
                counts[str(item)] += 1
        responders = sum(1 for r in data_rows if any(q in r.data for q in questions))
        return {
            "data": dict(counts),
            "datapoints": sum(counts.values()),
            "responses": responders,
            **window,
        }
    scores = [n for n in (_number(a) for a in answers) if n is not None]
    count = len(scores)
    if kind == "nps":
        detractors = sum(1 for s in scores if s < NPS_PASSIVE_MIN)
        promoters = sum(1 for s in scores if s >= NPS_PROMOTER_MIN)
        passives = count - detractors - promoters
        nps = round(100 * (promoters - detractors) / count) if count else None
        return {
            "nps": nps,
            "count": count,
            "data": {"detractors": detractors, "passives": passives, "promoters": promoters},
            **window,
        }
    distribution = dict(sorted(Counter(_score_key(s) for s in scores).items()))
    if kind == "csat":
        satisfied = sum(1 for s in scores if s >= CSAT_SATISFIED_MIN)
        csat = round(100 * satisfied / count, 1) if count else None
        return {"csat": csat, "count": count, "data": distribution, **window}
    total = sum(scores)
    return {
        "average": round(total / count, 2) if count else None,
        "sum": int(total) if float(total).is_integer() else total,
        "count": count,
        "data": distribution,
        **window,
    }
