-- Reconciliation: per survey and UTC day, the CSAT answers the package counts equal Refiner's
-- `csat` report for that day, and its CSAT share rounds to Refiner's (one decimal, within 0.05).
-- Exact when the tap read unfinished responses too; otherwise the package may only count fewer
-- (see refiner_nps_matches_refiner_reports).
with reports as (
  select * from {{ ref('stg_refiner__reports') }} where report_type = 'csat'
),

daily as (
  select * from {{ ref('refiner__survey_daily') }}
),

coverage as (
  select count(*) > 0 as has_partials
  from {{ ref('stg_refiner__responses') }}
  where response_status <> 'completed'
),

compared as (
  select
    reports.form_uuid,
    reports.report_date,
    coalesce(reports.answer_count, 0) as refiner_count,
    coalesce(daily.csat_answer_count, 0) as package_count,
    reports.csat as refiner_csat,
    daily.csat_share as package_csat
  from reports
  left join daily
    on daily.form_uuid = reports.form_uuid and daily.survey_date = reports.report_date
)

select compared.*
from compared
cross join coverage
where
  (
    coverage.has_partials
    and (
      refiner_count != package_count
      or (refiner_csat is null) != (package_csat is null)
      or abs(refiner_csat - package_csat) > 0.05
    )
  )
  or package_count > refiner_count
