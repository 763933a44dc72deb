{{ config(enabled=refiner_using_sync_log()) }}
-- One row per run and stream: the per-stream counts of `sync_runs.streams`, unnested.
{% set counts = ['rows_in', 'sent', 'unchanged', 'replays', 'rejected'] %}
with runs as (
  {{ refiner_latest('sync_runs', ['run_id'], newest_first=['seq']) }}
)

select
  runs.run_id || '/' || stream_counts.key as run_stream_id,
  runs.run_id,
  runs.project,
  stream_counts.key as stream,
  {%- for count in counts %}
  cast(coalesce({{ refiner_json_text('stream_counts.value', [count]) }}, '0') as integer)
    as {{ count }}{{ ',' if not loop.last }}
  {%- endfor %}
from runs
cross join {{ refiner_json_entries('runs.streams', 'stream_counts') }}
