{{ config(enabled=refiner_using_sync_log()) }}
-- Rows target-refiner could not apply, per project, stream, outcome (rejected: dead-lettered with
-- Refiner's message or the reason; failed: the call's fate unknown or the run stopped), message
-- and UTC day of the log entry: how many, in how many runs, for how many people, first and last.
{% set group = ['project', 'stream', 'outcome', 'error_message', 'error_date'] %}
with changes as (
  select * from {{ ref('stg_refiner__sync_changelog') }}
  where outcome in ('rejected', 'failed')
),

errors as (
  select
    project,
    stream,
    outcome,
    coalesce(message, '') as error_message,
    {{ refiner_utc_date('logged_at') }} as error_date,
    http_status,
    contact_remote_id,
    contact_email,
    run_id,
    logged_at,
    change_seq
  from changes
),

latest as (
  select
    {{ group | join(', ') }},
    run_id as last_run_id,
    http_status as last_http_status,
    row_number() over (
      partition by {{ group | join(', ') }}
      order by logged_at desc, change_seq desc
    ) as newest
  from errors
),

grouped as (
  select
    {{ group | join(', ') }},
    count(*) as error_count,
    count(distinct run_id) as run_count,
    count(distinct coalesce(contact_remote_id, lower(contact_email))) as contact_count,
    min(logged_at) as first_seen_at,
    max(logged_at) as last_seen_at
  from errors
  group by {{ group | join(', ') }}
)

select
  grouped.project || '/' || grouped.stream || '/' || grouped.outcome || '/'
  || cast(grouped.error_date as {{ dbt.type_string() }}) || '/' || md5(grouped.error_message)
    as sync_error_id,
  grouped.project,
  grouped.stream,
  grouped.outcome,
  grouped.error_message,
  grouped.error_date,
  cast(grouped.error_count as integer) as error_count,
  cast(grouped.run_count as integer) as run_count,
  cast(grouped.contact_count as integer) as contact_count,
  grouped.first_seen_at,
  grouped.last_seen_at,
  latest.last_run_id,
  latest.last_http_status
from grouped
inner join latest
  on
    latest.newest = 1
    {%- for column in group %}
    and latest.{{ column }} = grouped.{{ column }}
    {%- endfor %}
