-- Reconciliation with Refiner's own reports (the `reports` stream): per survey and UTC day, the
-- NPS groups and CSAT answers the package counts from answers equal those of Refiner's `nps` and
-- `csat` reports for that day, and its NPS / CSAT share, unrounded, round to Refiner's (NPS a
-- whole number, within 0.5, as Refiner rounds halves either way; CSAT one decimal, within 0.05).
-- Refiner's reports count the answers of unfinished responses too. When the tap read them
-- (`responses_include: partials` or `all`, seen as responses that are not completed) the test is
-- exact; when it read completed responses only, each count may only be smaller than Refiner's.
-- Fails with the rows that differ: (report type, survey, day, measure, Refiner's, the package's).
{%- set measures = [
  ('nps', 'answers', 'answer_count', 'nps_answer_count'),
  ('nps', 'promoters', 'refiner_promoters', 'promoters'),
  ('nps', 'passives', 'refiner_passives', 'passives'),
  ('nps', 'detractors', 'refiner_detractors', 'detractors'),
  ('csat', 'answers', 'answer_count', 'csat_answer_count'),
] %}
with reports as (
  select * from {{ ref('stg_refiner__reports') }} where report_type in ('nps', 'csat')
),

daily as (
  select * from {{ ref('refiner__survey_daily') }}
),

coverage as (
  select count(*) > 0 as is_exact
  from {{ ref('stg_refiner__responses') }}
  where response_status <> 'completed'
),

compared as (
  select
    reports.report_id,
    reports.report_type,
    reports.answer_count,
    reports.promoters as refiner_promoters,
    reports.passives as refiner_passives,
    reports.detractors as refiner_detractors,
    reports.nps as refiner_nps,
    reports.csat as refiner_csat,
    daily.nps_answer_count,
    daily.promoters,
    daily.passives,
    daily.detractors,
    daily.nps,
    daily.csat_answer_count,
    daily.csat_share
  from reports
  left join daily
    on daily.form_uuid = reports.form_uuid and daily.survey_date = reports.report_date
),

counts as (
  {%- for report_type, measure, refiner_column, package_column in measures %}
  select
    report_type,
    report_id,
    '{{ measure }}' as measure,
    cast(coalesce({{ refiner_column }}, 0) as {{ dbt.type_numeric() }}) as refiner_value,
    cast(coalesce({{ package_column }}, 0) as {{ dbt.type_numeric() }}) as package_value
  from compared
  where report_type = '{{ report_type }}'
  {{ 'union all' if not loop.last }}
  {%- endfor %}
),

scores as (
  select
    report_type,
    report_id,
    report_type as measure,
    cast(case when report_type = 'nps' then refiner_nps else refiner_csat end as {{ dbt.type_float() }})
      as refiner_value,
    cast(case when report_type = 'nps' then nps else csat_share end as {{ dbt.type_float() }})
      as package_value,
    case when report_type = 'nps' then 0.5 else 0.05 end as tolerance
  from compared
)

select counts.report_id, counts.measure, counts.refiner_value, counts.package_value
from counts
cross join coverage
where
  counts.package_value > counts.refiner_value
  or (coverage.is_exact and counts.package_value != counts.refiner_value)

union all

select scores.report_id, scores.measure, scores.refiner_value, scores.package_value
from scores
cross join coverage
where
  coverage.is_exact
  and (
    (scores.refiner_value is null) != (scores.package_value is null)
    or abs(scores.refiner_value - scores.package_value) > scores.tolerance
  )
