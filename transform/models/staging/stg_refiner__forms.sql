{%- set types = refiner_source_types('forms') -%}
with forms as (
  {{ refiner_latest('forms', ['uuid']) }}
)

select
  uuid as form_uuid,
  name as form_name,
  case
    when archived_at is not null then 'archived'
    when published_at is not null then 'published'
    else 'draft'
  end as form_state,
  {{ refiner_utc('created_at', types) }} as created_at,
  {{ refiner_utc('updated_at', types) }} as updated_at,
  {{ refiner_utc('published_at', types) }} as published_at,
  {{ refiner_utc('archived_at', types) }} as archived_at,
  {{ refiner_utc('first_form_view_at', types) }} as first_viewed_at,
  {{ refiner_utc('last_form_view_at', types) }} as last_viewed_at,
  cast(responses_count as {{ dbt.type_bigint() }}) as responses_count,
  cast(views_count as {{ dbt.type_bigint() }}) as views_count,
  page_url
from forms
