{{ config(materialized='ephemeral') }}
-- Activity and sleep side by side per user and day; never stored, inlined as a CTE.
select
    a.user_day_id,
    a.user_id,
    a.activity_date,
    a.total_steps,
    a.active_minutes,
    s.minutes_asleep
from {{ ref('stg_daily_activity') }} as a
left join {{ ref('stg_sleep') }} as s
    on s.user_id = a.user_id and s.sleep_date = a.activity_date
