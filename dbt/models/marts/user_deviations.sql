-- Per user and day: z-scores of steps, active minutes and sleep against the
-- user's baseline, and a status once the baseline has enough days.
{%- set metrics = [
    ['steps', 'total_steps', 'steps'],
    ['active_minutes', 'active_minutes', 'active_minutes'],
    ['sleep', 'minutes_asleep', 'minutes_asleep']
] %}
with scored as (
    select
        d.user_day_id,
        d.user_id,
        d.activity_date,
        b.baseline_id,
        b.baseline_days,
        {%- for name, value, base in metrics %}
        d.{{ value }} as {{ name }}_value,
        (d.{{ value }} - b.{{ base }}_mean) / nullif(b.{{ base }}_stddev, 0) as {{ name }}_z
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ ref('int_user_days') }} as d
    join {{ ref('user_baselines') }} as b on b.baseline_id = d.user_day_id
)

select
    *,
    case
        when baseline_days < {{ var('min_baseline_days') }} or steps_z is null then 'no_baseline'
        when steps_z >= {{ var('deviation_z_threshold') }} then 'above'
        when steps_z <= -{{ var('deviation_z_threshold') }} then 'below'
        else 'typical'
    end as steps_status
from scored
