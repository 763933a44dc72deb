-- Reconciliation: per survey and UTC day, the NPS groups the package counts from answers equal
-- those of Refiner's own `nps` report for that day (reports stream), and its NPS, unrounded,
-- rounds to Refiner's whole number (within 0.5: Refiner rounds halves either way). Fails with
-- the rows that differ. Exact when the tap reads partial responses too (`responses_include`
-- partials or all): Refiner's reports count the answers of unfinished responses.
with reports as (
  select * from {{ ref('stg_refiner__reports') }} where report_type = 'nps'
),

daily as (
  select * from {{ ref('refiner__survey_daily') }}
)

select
  reports.form_uuid,
  reports.report_date,
  reports.answer_count as refiner_count,
  coalesce(daily.nps_answer_count, 0) as package_count,
  reports.promoters as refiner_promoters,
  coalesce(daily.promoters, 0) as package_promoters,
  reports.passives as refiner_passives,
  coalesce(daily.passives, 0) as package_passives,
  reports.detractors as refiner_detractors,
  coalesce(daily.detractors, 0) as package_detractors,
  reports.nps as refiner_nps,
  daily.nps as package_nps
from reports
left join daily
  on daily.form_uuid = reports.form_uuid and daily.survey_date = reports.report_date
where
  coalesce(reports.answer_count, 0) != coalesce(daily.nps_answer_count, 0)
  or coalesce(reports.promoters, 0) != coalesce(daily.promoters, 0)
  or coalesce(reports.passives, 0) != coalesce(daily.passives, 0)
  or coalesce(reports.detractors, 0) != coalesce(daily.detractors, 0)
  or (reports.nps is null) != (daily.nps is null)
  or abs(reports.nps - daily.nps) > 0.5
