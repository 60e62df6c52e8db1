{#- A stable text key from several columns (md5 of their text forms), like
    dbt_utils.generate_surrogate_key, so marts have one-column keys that the
    generic unique and relationships tests can check. -#}
{% macro surrogate_key(columns) -%}
  md5({%- for column in columns %}coalesce(cast({{ column }} as text), '_null_'){% if not loop.last %} || '|' || {% endif %}{%- endfor %})
{%- endmacro %}
