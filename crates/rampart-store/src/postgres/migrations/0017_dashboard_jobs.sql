-- What the dashboard reads of jobs (issue 16).

-- When the worker holding an active job last sent a heartbeat (NULL: none
-- yet; a value older than `started_at` is an earlier attempt's).
ALTER TABLE jobs ADD COLUMN heartbeat_at BIGINT;
-- The payload an event replaced (a retry with an edited payload), so the
-- original stays in the job's history.
ALTER TABLE job_events ADD COLUMN payload TEXT;
-- Jobs by unique key in every state (`jobs_unique_live` holds only live
-- ones). Partial on jobs that have a key, so other enqueues never touch it.
CREATE INDEX jobs_unique_key ON jobs (queue, unique_key, id) WHERE unique_key IS NOT NULL;
