{{ config(enabled=refiner_using_sync_log()) }}
-- The latest outcome per project, stream and row key (a replaced snapshot row gets a new seq;
-- the warehouse may keep the older versions, the highest seq is the current one).
{% set row_key_text = 'cast(row_key as ' ~ dbt.type_string() ~ ')' %}
with snapshot as (
  {{ refiner_latest('sync_snapshot', ['project', 'stream', row_key_text], newest_first=['seq']) }}
)

select
  project || '/' || stream || '/' || {{ row_key_text }} as snapshot_id,
  {{ refiner_sync_change_columns('sync_snapshot') }}
from snapshot
