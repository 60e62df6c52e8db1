-- Singular test: a day cannot have more trail-friendly hours than observed
-- hours, nor more than 24. Returns the offending rows (none means pass).
select place, weather_date, trail_friendly_hours, hours_observed
from {{ ref('outdoor_conditions_daily') }}
where trail_friendly_hours > hours_observed
   or hours_observed > 24
   or trail_friendly_hours < 0
