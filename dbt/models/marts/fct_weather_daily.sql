{{
    config(
        materialized='incremental',
        unique_key='weather_day_id',
        incremental_strategy='delete+insert'
    )
}}
-- Daily weather per place. Incremental: a run re-reads only the last
-- `weather_lookback_days` days already present, so late hours replace their day.
select
    {{ surrogate_key(['place', 'observed_date']) }} as weather_day_id,
    place,
    observed_date as weather_date,
    min(latitude) as latitude,
    min(longitude) as longitude,
    count(*) as hours_observed,
    round(cast(min(temperature_c) as {{ dbt.type_numeric() }}), 2) as temperature_min_c,
    round(cast(max(temperature_c) as {{ dbt.type_numeric() }}), 2) as temperature_max_c,
    round(cast(avg(temperature_c) as {{ dbt.type_numeric() }}), 2) as temperature_mean_c,
    round(cast(sum(precipitation_mm) as {{ dbt.type_numeric() }}), 2) as precipitation_mm,
    round(cast(sum(snowfall_cm) as {{ dbt.type_numeric() }}), 2) as snowfall_cm,
    round(cast(max(wind_speed_kmh) as {{ dbt.type_numeric() }}), 2) as wind_speed_max_kmh,
    max(loaded_at) as loaded_at
from {{ ref('stg_weather_data') }}
{% if is_incremental() %}
where observed_date >= (
    select coalesce(max(weather_date), date '1900-01-01') - {{ var('weather_lookback_days') }}
    from {{ this }}
)
{% endif %}
group by place, observed_date
