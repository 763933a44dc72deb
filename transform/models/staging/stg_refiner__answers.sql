{%- set types = refiner_source_types('answers') -%}
with answers as (
  {{ refiner_latest('answers', ['response_uuid', 'question_id']) }}
)

select
  response_uuid || '/' || question_id as answer_id,
  response_uuid,
  question_id,
  form_uuid,
  value as answer_value,
  cast(value_number as {{ dbt.type_numeric() }}) as answer_number,
  {{ refiner_utc('answered_at', types) }} as answered_at,
  contact_uuid,
  contact_remote_id
from answers
