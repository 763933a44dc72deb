{%- set types = refiner_source_types('account') -%}
with snapshots as (
  {{ refiner_latest('account', ['extracted_at']) }}
)

select
  {{ refiner_utc('extracted_at', types) }} as extracted_at,
  plan as plan_name,
  cast(mtu_count as {{ dbt.type_bigint() }}) as mtu_count,
  cast(mtu_limit as {{ dbt.type_bigint() }}) as mtu_limit,
  cast(mpv_count as {{ dbt.type_bigint() }}) as mpv_count,
  cast(mpv_limit as {{ dbt.type_bigint() }}) as mpv_limit,
  cast(msr_count as {{ dbt.type_bigint() }}) as msr_count,
  cast(msr_limit as {{ dbt.type_bigint() }}) as msr_limit,
  cast(mte_count as {{ dbt.type_bigint() }}) as mte_count
from snapshots
