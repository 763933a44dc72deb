{%- set types = refiner_source_types('segment_memberships') -%}
with memberships as (
  {{ refiner_latest('segment_memberships', ['segment_uuid', 'contact_uuid']) }}
)

select
  segment_uuid || '/' || contact_uuid as segment_membership_id,
  segment_uuid,
  contact_uuid,
  remote_id as contact_remote_id,
  email as contact_email,
  {{ refiner_utc('entered_at', types) }} as entered_at,
  {{ refiner_utc('updated_at', types) }} as updated_at
from memberships
