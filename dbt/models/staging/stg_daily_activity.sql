-- One row per user and day: a day re-sent in a later file replaces the earlier one.
with ranked as (
    select
        *,
        row_number() over (
            partition by user_id, activity_date
            order by loaded_at desc, source_file desc
        ) as row_rank
    from {{ source('raw', 'daily_activity') }}
    where user_id is not null and activity_date is not null
)

select
    {{ surrogate_key(['user_id', 'activity_date']) }} as user_day_id,
    user_id,
    activity_date,
    total_steps,
    total_distance_km,
    very_active_minutes,
    fairly_active_minutes,
    lightly_active_minutes,
    sedentary_minutes,
    coalesce(very_active_minutes, 0) + coalesce(fairly_active_minutes, 0) as active_minutes,
    calories,
    source_file
from ranked
where row_rank = 1
