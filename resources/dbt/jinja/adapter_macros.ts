/**
 * The global project's macros behind the warehouse methods of `adapter`
 * (`drop_relation`, `rename_relation`, `truncate_relation`,
 * `create_schema`, `drop_schema`, `list_schemas`, `check_schema_exists`,
 * `list_relations_without_caching`, `get_columns_in_relation`, and
 * `alter_column_type`, which
 * `expand_target_column_types` runs): in dbt-adapters each of those methods
 * runs the macro of the same name, which dispatches to `<adapter>__x` /
 * `default__x`. So a project's or package's own `postgres__drop_relation`
 * (or `drop_relation`) changes what `adapter.drop_relation` does, here as
 * in dbt.
 *
 * The `default__` and `postgres__` versions live here; dbt-duckdb's are in
 * `adapters/duckdb.ts`. Written from dbt's documented behaviour of each
 * macro; loaded with the global project's other macros, as one template.
 *
 * @module
 */

const dispatching = (name: string, args: string) =>
  `{% macro ${name}(${args}) -%}{{ return(adapter.dispatch('${name}', 'dbt')(${args})) }}{%- endmacro %}\n`;

/** Jinja source of the macros. */
export const ADAPTER_MACROS = [
  dispatching("drop_relation", "relation"),
  `{% macro default__drop_relation(relation) -%}
{%- call statement('drop_relation', auto_begin=False) -%}
{%- if relation.is_table -%}{{ drop_table(relation) }}
{%- elif relation.is_view -%}{{ drop_view(relation) }}
{%- elif relation.type == 'materialized_view' -%}{{ drop_materialized_view(relation) }}
{%- else -%}drop {{ relation.type }} if exists {{ relation.render() }} cascade
{%- endif -%}
{%- endcall -%}
{%- endmacro %}\n`,
  ...[["table", "table"], ["view", "view"], ["materialized_view", "materialized view"]].map((
    [name, kind],
  ) =>
    dispatching(`drop_${name}`, "relation") +
    `{% macro default__drop_${name}(relation) -%}drop ${kind} if exists {{ relation.render() }} cascade{%- endmacro %}\n`
  ),
  dispatching("truncate_relation", "relation"),
  `{% macro default__truncate_relation(relation) -%}
{%- call statement('truncate_relation') -%}truncate table {{ relation.render() }}{%- endcall -%}
{%- endmacro %}\n`,
  dispatching("rename_relation", "from_relation, to_relation"),
  `{% macro default__rename_relation(from_relation, to_relation) -%}
{%- set target_name = adapter.quote_as_configured(to_relation.identifier, 'identifier') -%}
{%- call statement('rename_relation') -%}alter table {{ from_relation.render() }} rename to {{ target_name }}{%- endcall -%}
{%- endmacro %}\n`,
  dispatching("create_schema", "relation"),
  `{% macro default__create_schema(relation) -%}
{%- call statement('create_schema') -%}create schema if not exists {{ relation.without_identifier() }}{%- endcall -%}
{%- endmacro %}\n`,
  // Postgres' create/drop schema take no database part; dbt-postgres leaves it out.
  `{% macro postgres__create_schema(relation) -%}
{%- call statement('create_schema') -%}create schema if not exists {{ relation.without_identifier().include(database=False) }}{%- endcall -%}
{%- endmacro %}\n`,
  dispatching("drop_schema", "relation"),
  `{% macro default__drop_schema(relation) -%}
{%- call statement('drop_schema') -%}drop schema if exists {{ relation.without_identifier() }} cascade{%- endcall -%}
{%- endmacro %}\n`,
  `{% macro postgres__drop_schema(relation) -%}
{%- call statement('drop_schema') -%}drop schema if exists {{ relation.without_identifier().include(database=False) }} cascade{%- endcall -%}
{%- endmacro %}\n`,
  dispatching("list_schemas", "database"),
  `{% macro default__list_schemas(database) -%}
{%- call statement('list_schemas', fetch_result=True, auto_begin=False) -%}
select distinct schema_name from information_schema.schemata
{%- endcall -%}
{{ return(load_result('list_schemas').table) }}
{%- endmacro %}\n`,
  `{% macro postgres__list_schemas(database) -%}
{%- call statement('list_schemas', fetch_result=True, auto_begin=False) -%}
select distinct nspname from pg_namespace
{%- endcall -%}
{{ return(load_result('list_schemas').table) }}
{%- endmacro %}\n`,
  dispatching("check_schema_exists", "information_schema, schema"),
  `{% macro default__check_schema_exists(information_schema, schema) -%}
{%- call statement('check_schema_exists', fetch_result=True, auto_begin=False) -%}
select count(*) from information_schema.schemata where schema_name = '{{ schema }}'
{%- endcall -%}
{{ return(load_result('check_schema_exists').table) }}
{%- endmacro %}\n`,
  `{% macro postgres__check_schema_exists(information_schema, schema) -%}
{%- call statement('check_schema_exists', fetch_result=True, auto_begin=False) -%}
select count(*) from pg_namespace where nspname = '{{ schema }}'
{%- endcall -%}
{{ return(load_result('check_schema_exists').table) }}
{%- endmacro %}\n`,
  dispatching("list_relations_without_caching", "schema_relation"),
  `{% macro default__list_relations_without_caching(schema_relation) -%}
{{ exceptions.raise_not_implemented('list_relations_without_caching macro not implemented for adapter ' ~ adapter.type()) }}
{%- endmacro %}\n`,
  // Materialized views are not in information_schema.tables: pg_matviews has them.
  `{% macro postgres__list_relations_without_caching(schema_relation) -%}
{%- call statement('list_relations_without_caching', fetch_result=True) -%}
select '{{ schema_relation.database }}' as database, tablename as name, schemaname as schema, 'table' as type
from pg_tables where schemaname ilike '{{ schema_relation.schema }}'
union all
select '{{ schema_relation.database }}' as database, viewname as name, schemaname as schema, 'view' as type
from pg_views where schemaname ilike '{{ schema_relation.schema }}'
union all
select '{{ schema_relation.database }}' as database, matviewname as name, schemaname as schema, 'materialized_view' as type
from pg_matviews where schemaname ilike '{{ schema_relation.schema }}'
order by 2
{%- endcall -%}
{{ return(load_result('list_relations_without_caching').table) }}
{%- endmacro %}\n`,
  dispatching("get_columns_in_relation", "relation"),
  // information_schema.columns serves Postgres and DuckDB alike (dbt-duckdb reads it too).
  `{% macro default__get_columns_in_relation(relation) -%}
{%- call statement('get_columns_in_relation', fetch_result=True) -%}
select column_name, data_type, character_maximum_length, numeric_precision, numeric_scale
from information_schema.columns
where table_name = '{{ relation.identifier | replace("'", "''") }}'
{%- if relation.schema %} and table_schema = '{{ relation.schema | replace("'", "''") }}'{% endif %}
order by ordinal_position
{%- endcall -%}
{{ return(sql_convert_columns_in_relation(load_result('get_columns_in_relation').table)) }}
{%- endmacro %}\n`,
  `{% macro sql_convert_columns_in_relation(table) -%}
{%- set columns = [] -%}
{%- for row in (table.rows if table else []) -%}
{%- do columns.append(api.Column(row[0], row[1], row[2], row[3], row[4])) -%}
{%- endfor -%}
{{ return(columns) }}
{%- endmacro %}\n`,
  dispatching("alter_column_type", "relation, column_name, new_column_type"),
  // A new column of the type takes the values, then the name: the column moves last, as in dbt.
  `{% macro default__alter_column_type(relation, column_name, new_column_type) -%}
{%- set tmp_column = column_name ~ '__dbt_alter' -%}
{%- call statement('alter_column_type') -%}
alter table {{ relation.render() }} add column {{ adapter.quote(tmp_column) }} {{ new_column_type }};
update {{ relation.render() }} set {{ adapter.quote(tmp_column) }} = {{ adapter.quote(column_name) }};
alter table {{ relation.render() }} drop column {{ adapter.quote(column_name) }} cascade;
alter table {{ relation.render() }} rename column {{ adapter.quote(tmp_column) }} to {{ adapter.quote(column_name) }}
{%- endcall -%}
{%- endmacro %}\n`,
].join("");
