-- Trail-friendly hours per place and day, from temperature, precipitation and wind.
{%- set ratings = [['good', 0.5], ['fair', 0.25]] %}
with hours as (
    select
        place,
        observed_date,
        case when {{ is_trail_friendly('temperature_c', 'precipitation_mm', 'snowfall_cm', 'wind_speed_kmh') }}
            then 1 else 0 end as friendly
    from {{ ref('stg_weather_data') }}
),

days as (
    select
        place,
        observed_date,
        count(*) as hours_observed,
        sum(friendly) as trail_friendly_hours
    from hours
    group by place, observed_date
)

select
    {{ surrogate_key(['place', 'observed_date']) }} as weather_day_id,
    place,
    observed_date as weather_date,
    hours_observed,
    trail_friendly_hours,
    round(cast(trail_friendly_hours as {{ dbt.type_numeric() }}) / hours_observed, 3) as trail_friendly_share,
    case
    {%- for rating, share in ratings %}
        when cast(trail_friendly_hours as {{ dbt.type_numeric() }}) / hours_observed >= {{ share }} then '{{ rating }}'
    {%- endfor %}
        else 'poor'
    end as conditions_rating
from days
