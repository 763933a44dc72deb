{{ config(enabled=refiner_using_sync_log()) }}
-- One row per row target-refiner processed (or mirror change), and what came of it.
with changes as (
  {{ refiner_latest('sync_changelog', ['project', 'seq']) }}
)

select
  project || '/' || cast(seq as {{ dbt.type_string() }}) as change_id,
  {{ refiner_sync_change_columns('sync_changelog') }}
from changes
