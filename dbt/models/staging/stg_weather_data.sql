-- One row per place and hour, typed and keyed; the day is the UTC calendar day.
select
    {{ surrogate_key(['place', 'observed_at']) }} as weather_hour_id,
    place,
    latitude,
    longitude,
    observed_at,
    cast(observed_at at time zone 'UTC' as date) as observed_date,
    temperature_c,
    coalesce(precipitation_mm, 0) as precipitation_mm,
    coalesce(snowfall_cm, 0) as snowfall_cm,
    wind_speed_kmh,
    weather_code,
    loaded_at
from {{ source('raw', 'raw_weather') }}
where observed_at is not null
