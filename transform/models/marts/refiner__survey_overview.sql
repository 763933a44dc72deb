-- Per survey: its state, lifetime figures and those of the last `refiner_recent_days` UTC days
-- (today included), from refiner__survey_daily, and its first and last response.
{%- set recent_days = var('refiner_recent_days', 30) | int %}
{%- set periods = {'lifetime': 'true', 'recent': 'daily.survey_date >= recent_start.day'} %}
with forms as (
  select * from {{ ref('stg_refiner__forms') }}
),

daily as (
  select * from {{ ref('refiner__survey_daily') }}
),

responses as (
  select
    form_uuid,
    min(last_data_received_at) as first_response_at,
    max(last_data_received_at) as last_response_at
  from {{ ref('stg_refiner__responses') }}
  where last_data_received_at is not null
  group by 1
),

recent_start as (
  select {{ dbt.dateadd('day', 1 - recent_days, refiner_utc_today()) }} as day
),

totals as (
  select
    daily.form_uuid,
    {%- for period, condition in periods.items() %}
    {%- for measure in ['view_count', 'response_count', 'nps_answer_count', 'promoters', 'detractors', 'csat_answer_count', 'csat_satisfied_count'] %}
    cast(sum(case when {{ condition }} then daily.{{ measure }} else 0 end) as integer)
      as {{ period }}_{{ measure }}{{ ',' if not (loop.last and period == 'recent') }}
    {%- endfor %}
    {%- endfor %}
  from daily
  cross join recent_start
  group by 1
)

select
  forms.form_uuid,
  forms.form_name,
  forms.form_state,
  forms.published_at,
  forms.archived_at,
  responses.first_response_at,
  responses.last_response_at,
  {%- for period in periods %}
  coalesce(totals.{{ period }}_view_count, 0) as {{ period }}_view_count,
  coalesce(totals.{{ period }}_response_count, 0) as {{ period }}_response_count,
  case
    when totals.{{ period }}_view_count > 0
      then round(1.0 * totals.{{ period }}_response_count / totals.{{ period }}_view_count, 4)
  end as {{ period }}_completion_rate,
  coalesce(totals.{{ period }}_nps_answer_count, 0) as {{ period }}_nps_answer_count,
  case
    when totals.{{ period }}_nps_answer_count > 0
      then 100.0 * (totals.{{ period }}_promoters - totals.{{ period }}_detractors)
        / totals.{{ period }}_nps_answer_count
  end as {{ period }}_nps,
  coalesce(totals.{{ period }}_csat_answer_count, 0) as {{ period }}_csat_answer_count,
  case
    when totals.{{ period }}_csat_answer_count > 0
      then 100.0 * totals.{{ period }}_csat_satisfied_count / totals.{{ period }}_csat_answer_count
  end as {{ period }}_csat_share{{ ',' if not loop.last }}
  {%- endfor %}
from forms
left join totals on totals.form_uuid = forms.form_uuid
left join responses on responses.form_uuid = forms.form_uuid
