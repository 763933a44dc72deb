with segments as (
  {{ refiner_latest('segments', ['uuid']) }}
)

select
  uuid as segment_uuid,
  name as segment_name,
  is_manual
from segments
