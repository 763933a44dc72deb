-- Per contact: account, segments, responses, and the last NPS answer (score and group).
with contacts as (
  select * from {{ ref('stg_refiner__contacts') }}
),

responses as (
  select
    contact_uuid,
    count(*) as response_count,
    max(last_data_received_at) as last_response_at
  from {{ ref('stg_refiner__responses') }}
  where completed_at is not null and contact_uuid is not null
  group by 1
),

nps_answers as (
  select
    contact_uuid,
    answer_number as nps_score,
    nps_category,
    answered_at,
    row_number() over (
      partition by contact_uuid order by answered_at desc, answer_id desc
    ) as recency
  from {{ ref('refiner__response_breakdown') }}
  where nps_category is not null and contact_uuid is not null and answered_at is not null
),

segments as (
  select
    memberships.contact_uuid,
    count(*) as segment_count,
    {{ refiner_string_agg('coalesce(segments.segment_name, memberships.segment_uuid)', 'coalesce(segments.segment_name, memberships.segment_uuid)') }}
      as segment_names
  from {{ ref('stg_refiner__segment_memberships') }} as memberships
  left join {{ ref('stg_refiner__segments') }} as segments
    on segments.segment_uuid = memberships.segment_uuid
  group by 1
)

select
  contacts.contact_uuid,
  contacts.contact_remote_id,
  contacts.contact_email,
  contacts.contact_name,
  contacts.account_uuid,
  contacts.account_remote_id,
  contacts.account_name,
  contacts.first_seen_at,
  contacts.last_seen_at,
  cast(coalesce(responses.response_count, 0) as integer) as response_count,
  responses.last_response_at,
  last_nps.nps_score as last_nps_score,
  last_nps.nps_category as last_nps_category,
  last_nps.answered_at as last_nps_answered_at,
  cast(coalesce(segments.segment_count, 0) as integer) as segment_count,
  segments.segment_names
from contacts
left join responses on responses.contact_uuid = contacts.contact_uuid
left join nps_answers as last_nps
  on last_nps.contact_uuid = contacts.contact_uuid and last_nps.recency = 1
left join segments on segments.contact_uuid = contacts.contact_uuid
