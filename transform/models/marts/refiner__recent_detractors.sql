-- An audience for target-refiner's mirror_segment: contacts whose latest NPS answer of the last
-- `refiner_detractor_days` UTC days (today included) is 0-6, one row each, named by user id and
-- email (contacts with neither cannot be added to a segment and are left out). `segment_uuid`
-- is the manual segment the rows fill: the var `refiner_detractors_segment_uuid`, else the
-- environment variable REFINER_DETRACTORS_SEGMENT_UUID.
{%- set days = var('refiner_detractor_days', 30) | int %}
{%- set segment_uuid = var('refiner_detractors_segment_uuid', env_var('REFINER_DETRACTORS_SEGMENT_UUID', '')) %}
with nps_answers as (
  select
    contact_uuid,
    contact_remote_id,
    contact_email,
    account_name,
    form_uuid,
    form_name,
    answer_number,
    nps_category,
    answered_at,
    row_number() over (
      partition by contact_uuid order by answered_at desc, answer_id desc
    ) as recency
  from {{ ref('refiner__response_breakdown') }}
  where
    nps_category is not null
    and contact_uuid is not null
    and {{ refiner_utc_date('answered_at') }}
      >= {{ dbt.dateadd('day', 1 - days, refiner_utc_today()) }}
)

select
  contact_uuid,
  contact_remote_id,
  contact_email,
  account_name,
  cast(answer_number as integer) as nps_score,
  answered_at,
  form_uuid,
  form_name,
  {% if segment_uuid %}cast('{{ segment_uuid }}' as {{ dbt.type_string() }}){% else %}cast(null as {{ dbt.type_string() }}){% endif %} as segment_uuid
from nps_answers
where
  recency = 1
  and nps_category = 'detractor'
  and (contact_remote_id is not null or contact_email is not null)
