with reports as (
  {{ refiner_latest('reports', ['form_uuid', 'type', '"date"']) }}
)

select
  form_uuid || '/' || type || '/' || cast(cast("date" as date) as {{ dbt.type_string() }})
    as report_id,
  form_uuid,
  type as report_type,
  cast("date" as date) as report_date,
  cast("count" as integer) as answer_count,
  cast(nps as {{ dbt.type_numeric() }}) as nps,
  cast(csat as {{ dbt.type_numeric() }}) as csat,
  cast(average as {{ dbt.type_numeric() }}) as average_score,
  cast(views as integer) as view_count,
  cast(responses as integer) as response_count,
  case when type = 'nps' then cast({{ refiner_json_text('data', ['promoters']) }} as integer) end
    as promoters,
  case when type = 'nps' then cast({{ refiner_json_text('data', ['passives']) }} as integer) end
    as passives,
  case when type = 'nps' then cast({{ refiner_json_text('data', ['detractors']) }} as integer) end
    as detractors
from reports
