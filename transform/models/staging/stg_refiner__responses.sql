{%- set types = refiner_source_types('responses') -%}
with responses as (
  {{ refiner_latest('responses', ['uuid']) }}
)

select
  uuid as response_uuid,
  coalesce(form_uuid, {{ refiner_json_text('form', ['uuid']) }}) as form_uuid,
  {{ refiner_json_text('form', ['name']) }} as form_name,
  {{ refiner_json_text('contact', ['uuid']) }} as contact_uuid,
  {{ refiner_json_text('contact', ['remote_id']) }} as contact_remote_id,
  {{ refiner_json_text('contact', ['email']) }} as contact_email,
  {{ refiner_json_text('contact', ['account', 'uuid']) }} as account_uuid,
  {{ refiner_json_text('contact', ['account', 'remote_id']) }} as account_remote_id,
  {{ refiner_json_text('contact', ['account', 'display_name']) }} as account_name,
  {{ refiner_utc('first_shown_at', types) }} as first_shown_at,
  {{ refiner_utc('last_shown_at', types) }} as last_shown_at,
  cast(show_counter as integer) as show_count,
  {{ refiner_utc('first_data_reception_at', types) }} as first_data_received_at,
  {{ refiner_utc('last_data_reception_at', types) }} as last_data_received_at,
  {{ refiner_utc('completed_at', types) }} as completed_at,
  {{ refiner_utc('received_at', types) }} as received_at,
  {{ refiner_utc('dismissed_at', types) }} as dismissed_at,
  case
    when completed_at is not null then 'completed'
    when last_data_reception_at is not null then 'partial'
    when dismissed_at is not null then 'dismissed'
    else 'viewed'
  end as response_status,
  {{ refiner_json('data') }} as response_data
from responses
