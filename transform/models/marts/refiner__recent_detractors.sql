-- An audience for target-refiner's mirror_segment: contacts whose latest NPS answer is 0-6 and
-- was given in the last `refiner_detractor_days` UTC days (today included), one row each, named
-- by user id and email (contacts with neither cannot be added to a segment and are left out).
-- `segment_uuid` is the manual segment the rows fill: the var `refiner_detractors_segment_uuid`,
-- else the environment variable REFINER_DETRACTORS_SEGMENT_UUID.
{%- set days = var('refiner_detractor_days', 30) | int %}
{%- set segment_uuid = var('refiner_detractors_segment_uuid', env_var('REFINER_DETRACTORS_SEGMENT_UUID', '')) %}
select
  contact_uuid,
  contact_remote_id,
  contact_email,
  account_name,
  cast(last_nps_score as integer) as nps_score,
  last_nps_answered_at as answered_at,
  {% if segment_uuid %}cast('{{ segment_uuid }}' as {{ dbt.type_string() }}){% else %}cast(null as {{ dbt.type_string() }}){% endif %} as segment_uuid
from {{ ref('refiner__contact_overview') }}
where
  last_nps_category = 'detractor'
  and {{ refiner_utc_date('last_nps_answered_at') }}
    >= {{ dbt.dateadd('day', 1 - days, refiner_utc_today()) }}
  and (contact_remote_id is not null or contact_email is not null)
