-- When each visibility row was written (a commit, a replace retiring a day-batch, a revert): the served
-- reads' dataLastUpdated is the newest of these over the day-batches holding matching rows. Every write
-- sets it; rows written before this migration read as 1970-01-01, which the reads take as unknown.
ALTER TABLE live_day_batches ADD COLUMN IF NOT EXISTS changed_at DateTime64(6, 'UTC') DEFAULT toDateTime64(0, 6, 'UTC')
