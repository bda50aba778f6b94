-- Tenants on jobs and stalls (issue 20).

-- The customer a job belongs to, as the producer named it (NULL: none).
ALTER TABLE jobs ADD COLUMN tenant TEXT COLLATE "C";
-- Leases of the job that expired and gave the job back without counting an
-- attempt (a queue's `max_stalls`); kept across attempts, reset by a retry.
ALTER TABLE jobs ADD COLUMN stalls INTEGER NOT NULL DEFAULT 0;

-- Listings by tenant (`?tenant=`). Partial on jobs that have one, so
-- enqueues without a tenant and every lease and ack never touch it.
CREATE INDEX jobs_tenant ON jobs (queue, tenant, id) WHERE tenant IS NOT NULL;

-- A cron schedule's tenant and attempts for its runs' jobs (NULL attempts:
-- one, a cron job retries on its next tick).
ALTER TABLE cron_schedules ADD COLUMN tenant TEXT COLLATE "C";
ALTER TABLE cron_schedules ADD COLUMN max_attempts INTEGER;

-- What the worker last reported of the running attempt (any JSON text,
-- POST /v1/jobs/{id}/progress or a heartbeat); kept after the job ends.
ALTER TABLE jobs ADD COLUMN progress TEXT;
