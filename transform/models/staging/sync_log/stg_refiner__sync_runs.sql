{{ config(enabled=refiner_using_sync_log()) }}
-- One row per target-refiner run (the latest version: a run is written when it starts and again
-- when it ends, with a new seq), with the totals of its per-stream counts.
{% set types = refiner_source_types('sync_runs') %}
{% set counts = ['rows_in', 'sent', 'unchanged', 'replays', 'rejected'] %}
with runs as (
  {{ refiner_latest('sync_runs', ['run_id'], newest_first=['seq']) }}
),

totals as (
  select
    run_id,
    {%- for count in counts %}
    sum({{ count }}) as {{ count }}{{ ',' if not loop.last }}
    {%- endfor %}
  from {{ ref('stg_refiner__sync_run_streams') }}
  group by run_id
)

select
  runs.run_id,
  runs.project,
  cast(runs.seq as {{ dbt.type_bigint() }}) as run_seq,
  {{ refiner_utc('started_at', types) }} as started_at,
  {{ refiner_utc('finished_at', types) }} as finished_at,
  runs.status as run_status,
  cast(runs.exit_code as integer) as exit_code,
  runs.message as run_message,
  {%- for count in counts %}
  cast(coalesce(totals.{{ count }}, 0) as integer) as {{ count }},
  {%- endfor %}
  {{ refiner_json('runs.streams') }} as stream_counts,
  {{ refiner_json('runs.mirror') }} as mirror_counts,
  runs.settings_fingerprint,
  runs.api_url,
  runs.host,
  cast(runs.pid as integer) as pid
from runs
left join totals on totals.run_id = runs.run_id
