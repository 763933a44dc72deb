-- Reconciliation: per survey and UTC day, the NPS groups the package counts from answers equal
-- those of Refiner's own `nps` report for that day (reports stream), and its NPS, unrounded,
-- rounds to Refiner's whole number (within 0.5: Refiner rounds halves either way).
-- Refiner's reports count the answers of unfinished responses too. When the tap read them
-- (`responses_include: partials` or `all`, seen as responses that are not completed) the test is
-- exact; when it read completed responses only, each group may only be smaller than Refiner's.
-- Fails with the rows that differ.
with reports as (
  select * from {{ ref('stg_refiner__reports') }} where report_type = 'nps'
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
    coalesce(daily.nps_answer_count, 0) as package_count,
    coalesce(reports.promoters, 0) as refiner_promoters,
    coalesce(daily.promoters, 0) as package_promoters,
    coalesce(reports.passives, 0) as refiner_passives,
    coalesce(daily.passives, 0) as package_passives,
    coalesce(reports.detractors, 0) as refiner_detractors,
    coalesce(daily.detractors, 0) as package_detractors,
    reports.nps as refiner_nps,
    daily.nps as package_nps
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
      or refiner_promoters != package_promoters
      or refiner_passives != package_passives
      or refiner_detractors != package_detractors
      or (refiner_nps is null) != (package_nps is null)
      or abs(refiner_nps - package_nps) > 0.5
    )
  )
  or package_count > refiner_count
  or package_promoters > refiner_promoters
  or package_passives > refiner_passives
  or package_detractors > refiner_detractors
