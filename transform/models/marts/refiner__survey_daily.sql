-- Per survey per UTC day. Views and responses count responses (shown that day; completed with
-- their last answer that day, like Refiner's `count` report); NPS and CSAT are computed from the
-- answers of that day (`answered_at`), like Refiner's `nps` and `csat` reports.
with responses as (
  select * from {{ ref('stg_refiner__responses') }}
),

breakdown as (
  select * from {{ ref('refiner__response_breakdown') }}
),

views as (
  select form_uuid, {{ refiner_utc_date('last_shown_at') }} as survey_date, count(*) as view_count
  from responses
  where last_shown_at is not null and form_uuid is not null
  group by 1, 2
),

completions as (
  select
    form_uuid,
    {{ refiner_utc_date('last_data_received_at') }} as survey_date,
    count(*) as response_count
  from responses
  where completed_at is not null and last_data_received_at is not null and form_uuid is not null
  group by 1, 2
),

scores as (
  select
    form_uuid,
    answered_on as survey_date,
    sum(case when nps_category is not null then 1 else 0 end) as nps_answer_count,
    sum(case when nps_category = 'promoter' then 1 else 0 end) as promoters,
    sum(case when nps_category = 'passive' then 1 else 0 end) as passives,
    sum(case when nps_category = 'detractor' then 1 else 0 end) as detractors,
    sum(case when is_csat_satisfied is not null then 1 else 0 end) as csat_answer_count,
    sum(case when is_csat_satisfied then 1 else 0 end) as csat_satisfied_count
  from breakdown
  where answered_on is not null and form_uuid is not null
  group by 1, 2
),

days as (
  select form_uuid, survey_date from views
  union
  select form_uuid, survey_date from completions
  union
  select form_uuid, survey_date from scores
),

daily as (
  select
    days.form_uuid,
    days.survey_date,
    cast(coalesce(views.view_count, 0) as integer) as view_count,
    cast(coalesce(completions.response_count, 0) as integer) as response_count,
    cast(coalesce(scores.nps_answer_count, 0) as integer) as nps_answer_count,
    cast(coalesce(scores.promoters, 0) as integer) as promoters,
    cast(coalesce(scores.passives, 0) as integer) as passives,
    cast(coalesce(scores.detractors, 0) as integer) as detractors,
    cast(coalesce(scores.csat_answer_count, 0) as integer) as csat_answer_count,
    cast(coalesce(scores.csat_satisfied_count, 0) as integer) as csat_satisfied_count
  from days
  left join views on views.form_uuid = days.form_uuid and views.survey_date = days.survey_date
  left join completions
    on completions.form_uuid = days.form_uuid and completions.survey_date = days.survey_date
  left join scores on scores.form_uuid = days.form_uuid and scores.survey_date = days.survey_date
)

select
  form_uuid || '/' || cast(survey_date as {{ dbt.type_string() }}) as survey_day_id,
  form_uuid,
  survey_date,
  view_count,
  response_count,
  case when view_count > 0 then round(1.0 * response_count / view_count, 4) end
    as completion_rate,
  nps_answer_count,
  promoters,
  passives,
  detractors,
  case
    when nps_answer_count > 0 then 100.0 * (promoters - detractors) / nps_answer_count
  end as nps,
  csat_answer_count,
  csat_satisfied_count,
  case when csat_answer_count > 0 then 100.0 * csat_satisfied_count / csat_answer_count end
    as csat_share
from daily
