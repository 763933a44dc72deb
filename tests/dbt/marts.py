"""Assertions on the built marts shared by the DuckDB and PostgreSQL tests.

``query(sql)`` runs one statement in the warehouse and returns its rows; every check compares
the marts with what the emulator holds (``tests.dbt.expected``), not with the SQL's own output.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from tests.dbt.expected import MARTS

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.dbt.expected import Expected

    Query = Callable[[str], list[tuple]]

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "refiner_analytics"
MIN_RECONCILED_DAYS = 10


def documented_columns() -> dict[str, list[str]]:
    """The columns transform/models/marts/refiner.yml lists per mart (README shows the same)."""
    text = (ROOT / "transform" / "models" / "marts" / "refiner.yml").read_text(encoding="utf-8")
    return {m["name"]: [c["name"] for c in m["columns"]] for m in yaml.safe_load(text)["models"]}


def check_columns(query: Query) -> None:
    """Every mart exists with exactly the documented columns, in order."""
    documented = documented_columns()
    assert set(documented) == set(MARTS)
    for mart in MARTS:
        found = query(
            "SELECT column_name FROM information_schema.columns "  # noqa: S608 - our names
            f"WHERE table_schema = '{SCHEMA}' AND table_name = '{mart}' ORDER BY ordinal_position"
        )
        assert [row[0] for row in found] == documented[mart], mart


def check_daily(query: Query, expected: Expected) -> None:
    """Views, responses, NPS groups and CSAT per survey-day are the emulator's, every day."""
    rows = query(
        "SELECT form_uuid, survey_date, view_count, response_count, nps_answer_count, promoters, "
        "passives, detractors, csat_answer_count, csat_satisfied_count, nps "
        "FROM refiner_analytics.refiner__survey_daily"
    )
    found = {(r[0], r[1]): tuple(int(v) for v in r[2:10]) for r in rows}
    assert found == expected.daily_rows()
    for row in rows:
        answers, promoters, detractors, nps = int(row[4]), int(row[5]), int(row[7]), row[10]
        if answers == 0:
            assert nps is None
        else:
            assert abs(float(nps) - 100 * (promoters - detractors) / answers) < 1e-6


def check_categories(query: Query, expected: Expected) -> None:
    """Answers per NPS group and per CSAT score; every group and score occurs."""
    groups = query(
        "SELECT nps_category, count(*) FROM refiner_analytics.refiner__response_breakdown "
        "WHERE nps_category IS NOT NULL GROUP BY 1"
    )
    assert Counter({g: int(n) for g, n in groups}) == expected.categories
    assert set(expected.categories) == {"promoter", "passive", "detractor"}
    scores = query(
        "SELECT answer_number, count(*) FROM refiner_analytics.refiner__response_breakdown "
        "WHERE question_type = 'csat' GROUP BY 1"
    )
    assert Counter({int(s): int(n) for s, n in scores}) == expected.csat_scores
    assert set(expected.csat_scores) == {1, 2, 3, 4, 5}


def check_reconciliation(query: Query) -> None:
    """NPS per survey-day equals Refiner's report of that day (groups exactly, NPS rounded)."""
    rows = query(
        "SELECT r.form_uuid, r.report_date, r.answer_count, r.promoters, r.passives, "
        "r.detractors, r.nps, d.nps_answer_count, d.promoters, d.passives, d.detractors, d.nps "
        "FROM refiner_analytics.stg_refiner__reports AS r "
        "LEFT JOIN refiner_analytics.refiner__survey_daily AS d "
        "ON d.form_uuid = r.form_uuid AND d.survey_date = r.report_date "
        "WHERE r.report_type = 'nps' AND r.answer_count > 0"
    )
    assert len(rows) >= MIN_RECONCILED_DAYS, rows  # recent days have NPS answers
    for row in rows:
        assert tuple(int(v) for v in row[2:6]) == tuple(int(v or 0) for v in row[7:11]), row
        assert abs(float(row[6]) - float(row[11])) <= 0.5, row


def check_audience(query: Query, expected: Expected, segment_uuid: str | None) -> set[str]:
    """The detractors are the emulator's; returns their remote ids."""
    rows = query(
        "SELECT contact_uuid, contact_remote_id, nps_score, segment_uuid "
        "FROM refiner_analytics.refiner__recent_detractors"
    )
    assert {r[0] for r in rows} == expected.detractors
    assert expected.detractors, "the seed has recent detractors"
    assert {r[3] for r in rows} == {segment_uuid}
    assert all(0 <= int(r[2]) <= 6 for r in rows)
    return {r[1] for r in rows if r[1] is not None}


def check_overview(query: Query, expected: Expected) -> None:
    """Recent (30 UTC days) NPS per survey from the emulator's answers."""
    today = dt.datetime.now(dt.timezone.utc).date()
    since = today - dt.timedelta(days=29)
    groups: dict[str, Counter] = {}
    for (form, day), figures in expected.days.items():
        if day >= since:
            groups.setdefault(form, Counter()).update(figures.nps)
    rows = query("SELECT form_uuid, recent_nps FROM refiner_analytics.refiner__survey_overview")
    for form, recent in rows:
        counts = groups.get(form, Counter())
        total = sum(counts.values())
        if total == 0:
            assert recent is None, form
            continue
        nps = 100 * (counts["promoter"] - counts["detractor"]) / total
        assert abs(float(recent) - nps) < 1e-6, form
    assert any(r[1] is not None for r in rows)


def snapshot(query: Query) -> dict[str, list[tuple]]:
    """Every mart's rows, sorted: two builds over the same data must be equal."""
    return {
        mart: sorted(query(f"SELECT * FROM {SCHEMA}.{mart}"), key=repr)  # noqa: S608 - our names
        for mart in MARTS
    }


def check_all(query: Query, expected: Expected, segment_uuid: str | None) -> set[str]:
    """Every check above; returns the audience's remote ids."""
    check_columns(query)
    check_daily(query, expected)
    check_categories(query, expected)
    check_reconciliation(query)
    check_overview(query, expected)
    return check_audience(query, expected, segment_uuid)
