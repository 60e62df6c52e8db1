{#- Whether an hour of weather is good for the trail: mild temperature, next to
    no precipitation or snow, moderate wind. Bounds come from project vars. -#}
{% macro is_trail_friendly(temperature, precipitation, snowfall, wind) -%}
  ({{ temperature }} between {{ var('trail_min_temp_c') }} and {{ var('trail_max_temp_c') }}
   and coalesce({{ precipitation }}, 0) <= {{ var('trail_max_precip_mm') }}
   and coalesce({{ snowfall }}, 0) = 0
   and coalesce({{ wind }}, 0) <= {{ var('trail_max_wind_kmh') }})
{%- endmacro %}
