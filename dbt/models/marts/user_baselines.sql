-- Each user's rolling baseline on each day: mean and standard deviation of the
-- previous `baseline_window_days` calendar days (the day itself excluded).
{%- set window = "partition by user_id order by activity_date range between interval '" ~ var('baseline_window_days') ~ " days' preceding and interval '1 day' preceding" %}
select
    user_day_id as baseline_id,
    user_id,
    activity_date,
    count(total_steps) over ({{ window }}) as baseline_days,
    avg(total_steps) over ({{ window }}) as steps_mean,
    stddev_samp(total_steps) over ({{ window }}) as steps_stddev,
    avg(active_minutes) over ({{ window }}) as active_minutes_mean,
    stddev_samp(active_minutes) over ({{ window }}) as active_minutes_stddev,
    avg(minutes_asleep) over ({{ window }}) as minutes_asleep_mean,
    stddev_samp(minutes_asleep) over ({{ window }}) as minutes_asleep_stddev
from {{ ref('int_user_days') }}
