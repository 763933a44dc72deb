{#- What differs between the warehouses, in one place (adapter dispatch, namespace `refiner`). -#}

{#- The column names and types of a tap table, lower-cased: {name: type}. Read from the table
    itself rather than through source(), which a dbt unit test replaces with its fixture. -#}
{% macro refiner_source_types(table) %}
  {%- set types = {} -%}
  {%- if execute -%}
    {%- set relation = adapter.get_relation(
      database=target.database, schema=var('refiner_schema', 'refiner'), identifier=table
    ) -%}
    {%- for column in (adapter.get_columns_in_relation(relation) if relation else []) -%}
      {%- do types.update({column.name | lower: column.data_type | lower}) -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(types) }}
{% endmacro %}

{#- A timestamp column as a timezone-aware UTC time. The targets land `date-time` as a timestamp
    without zone holding UTC (or as ISO text); a column someone altered to timestamptz is used
    as it is. -#}
{% macro refiner_utc(column, types) %}
  {%- if 'with time zone' in types.get(column, '') -%}
    {{ column }}
  {%- else -%}
    (cast({{ column }} as timestamp) at time zone 'UTC')
  {%- endif -%}
{% endmacro %}

{#- The text at a key path of a JSON object column (NULL when absent). -#}
{% macro refiner_json_text(column, keys) %}
  {{ return(adapter.dispatch('refiner_json_text', 'refiner')(column, keys)) }}
{% endmacro %}

{% macro default__refiner_json_text(column, keys) -%}
  json_extract_string({{ column }}, '$.{{ keys | join(".") }}')
{%- endmacro %}

{% macro postgres__refiner_json_text(column, keys) -%}
  ({{ column }} #>> '{ {{- keys | join(",") -}} }')
{%- endmacro %}

{#- A JSON object column as the warehouse's JSON type (DuckDB JSON, PostgreSQL jsonb). -#}
{% macro refiner_json(column) %}
  {{ return(adapter.dispatch('refiner_json', 'refiner')(column)) }}
{% endmacro %}

{% macro default__refiner_json(column) -%}
  cast({{ column }} as json)
{%- endmacro %}

{% macro postgres__refiner_json(column) -%}
  cast({{ column }} as jsonb)
{%- endmacro %}

{#- Text joined across a group, in order. -#}
{% macro refiner_string_agg(expression, order_by, separator=', ') %}
  {{ return(adapter.dispatch('refiner_string_agg', 'refiner')(expression, order_by, separator)) }}
{% endmacro %}

{% macro default__refiner_string_agg(expression, order_by, separator) -%}
  string_agg({{ expression }}, '{{ separator }}' order by {{ order_by }})
{%- endmacro %}

{#- The latest version of each key of a tap table: targets upsert by key, but a table loaded
    append-only or by another loader may hold several versions; rows a target marked deleted
    (_sdc_deleted_at, ACTIVATE_VERSION) are left out. `newest_first`: columns that order the
    versions one load holds (the sync log's `seq`: a changed row gets a new one). -#}
{% macro refiner_latest(table, keys, newest_first=[]) %}
  {%- set relation = source('refiner', table) -%}
  {%- set types = refiner_source_types(table) -%}
  select *
  from (
    select
      source_rows.*,
      row_number() over (
        partition by {{ keys | join(', ') }}
        order by
          {%- if '_sdc_batched_at' in types %} _sdc_batched_at desc nulls last,{% endif %}
          {%- if '_sdc_extracted_at' in types %} _sdc_extracted_at desc nulls last,{% endif %}
          {%- for column in newest_first %} {{ column }} desc nulls last,{% endfor %}
          {{ keys | join(', ') }}
      ) as refiner_version
    from {{ relation }} as source_rows
    {%- if '_sdc_deleted_at' in types %}
    where source_rows._sdc_deleted_at is null
    {%- endif %}
  ) as versions
  where refiner_version = 1
{% endmacro %}

{#- The UTC calendar day of a timezone-aware time. -#}
{% macro refiner_utc_date(column) -%}
  cast(({{ column }} at time zone 'UTC') as date)
{%- endmacro %}

{#- Today's UTC date. -#}
{% macro refiner_utc_today() -%}
  {{ refiner_utc_date(dbt.current_timestamp()) }}
{%- endmacro %}

{#- The NPS group of a 0-10 score (Refiner's: 0-6, 7-8, 9-10). -#}
{% macro refiner_nps_category(score) -%}
  case
    when {{ score }} is null then null
    when {{ score }} < 7 then 'detractor'
    when {{ score }} < 9 then 'passive'
    else 'promoter'
  end
{%- endmacro %}

{#- Whether the sync-log models are built: var `refiner__using_sync_log` (Fivetran style; its
    default in dbt_project.yml is the variable REFINER_USING_SYNC_LOG), true or false as a
    boolean or text; off by default, so a project that does not extract the sync log builds
    without its tables. -#}
{% macro refiner_using_sync_log() %}
  {%- set value = var('refiner__using_sync_log', false) -%}
  {{ return((value | string | trim | lower) in ['true', '1', 'yes']) }}
{% endmacro %}

{#- The entries of a JSON object column, as a join target with columns `key` (text) and `value`
    (JSON): `from runs cross join {{ refiner_json_entries('runs.streams', 'entry') }}`. -#}
{% macro refiner_json_entries(column, alias) %}
  {{ return(adapter.dispatch('refiner_json_entries', 'refiner')(column, alias)) }}
{% endmacro %}

{% macro default__refiner_json_entries(column, alias) -%}
  json_each({{ refiner_json(column) }}) as {{ alias }}
{%- endmacro %}

{% macro postgres__refiner_json_entries(column, alias) -%}
  lateral jsonb_each({{ refiner_json(column) }}) as {{ alias }} (key, value)
{%- endmacro %}

{#- The typed, renamed columns of a sync-log changelog or snapshot table (the same columns). -#}
{% macro refiner_sync_change_columns(table) -%}
  {%- set types = refiner_source_types(table) -%}
  project,
  cast(seq as {{ dbt.type_bigint() }}) as change_seq,
  run_id,
  {{ refiner_utc('logged_at', types) }} as logged_at,
  stream,
  {{ refiner_json('row_key') }} as row_key,
  user_id as contact_remote_id,
  email as contact_email,
  action,
  outcome,
  cast(http_status as integer) as http_status,
  message
{%- endmacro %}
