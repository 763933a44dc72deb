-- Reconciliation: per survey and UTC day, the CSAT answers the package counts equal Refiner's
-- `csat` report for that day, and its CSAT share rounds to Refiner's (one decimal, within 0.05).
with reports as (
  select * from {{ ref('stg_refiner__reports') }} where report_type = 'csat'
),

daily as (
  select * from {{ ref('refiner__survey_daily') }}
)

select
  reports.form_uuid,
  reports.report_date,
  reports.answer_count as refiner_count,
  coalesce(daily.csat_answer_count, 0) as package_count,
  reports.csat as refiner_csat,
  daily.csat_share as package_csat
from reports
left join daily
  on daily.form_uuid = reports.form_uuid and daily.survey_date = reports.report_date
where
  coalesce(reports.answer_count, 0) != coalesce(daily.csat_answer_count, 0)
  or (reports.csat is null) != (daily.csat_share is null)
  or abs(reports.csat - daily.csat_share) > 0.05
