{%- set types = refiner_source_types('contacts') -%}
with contacts as (
  {{ refiner_latest('contacts', ['uuid']) }}
)

select
  uuid as contact_uuid,
  remote_id as contact_remote_id,
  email as contact_email,
  display_name as contact_name,
  {{ refiner_utc('first_seen_at', types) }} as first_seen_at,
  {{ refiner_utc('last_seen_at', types) }} as last_seen_at,
  {{ refiner_utc('last_form_submission_at', types) }} as last_form_submitted_at,
  {{ refiner_utc('last_tracking_event_at', types) }} as last_tracking_event_at,
  {{ refiner_json('attributes') }} as contact_attributes,
  {{ refiner_json_text('account', ['uuid']) }} as account_uuid,
  {{ refiner_json_text('account', ['remote_id']) }} as account_remote_id,
  {{ refiner_json_text('account', ['display_name']) }} as account_name,
  {{ refiner_json_text('account', ['domain']) }} as account_domain
from contacts
