-- Steps of step-function jobs (issue 21). A job's recorded steps live on its
-- row as one JSON array, [{"name", "result", "at", "attempt"}], in the order
-- they were reached (an array: the order is part of the contract), so every
-- path that deletes a job drops its steps with it and a lease reads them with
-- the row. Text, kept byte for byte like the payload and the result; only
-- step-function jobs have it (NULL otherwise).
ALTER TABLE jobs ADD COLUMN steps TEXT;

-- The step a `step` or `sleeping` event of the history recorded.
ALTER TABLE job_events ADD COLUMN step TEXT;
