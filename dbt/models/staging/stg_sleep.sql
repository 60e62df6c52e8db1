-- One row per user and night (keyed by the day the sleep is recorded on).
with ranked as (
    select
        *,
        row_number() over (
            partition by user_id, sleep_date
            order by loaded_at desc, source_file desc
        ) as row_rank
    from {{ source('raw', 'sleep') }}
    where user_id is not null and sleep_date is not null
)

select
    {{ surrogate_key(['user_id', 'sleep_date']) }} as user_day_id,
    user_id,
    sleep_date,
    minutes_asleep,
    minutes_in_bed,
    sleep_records,
    case
        when minutes_in_bed > 0 then round(cast(minutes_asleep as {{ dbt.type_numeric() }}) / minutes_in_bed, 3)
    end as sleep_efficiency
from ranked
where row_rank = 1
